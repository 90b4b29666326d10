package nodesim

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"

	"fleetpane/testenv/internal/kube"
)

var everything = labels.Everything()

// syncNodes creates missing nodes, reports their status and removes the
// startup taints.
func (c *cluster) syncNodes(ctx context.Context) error {
	for _, n := range c.order {
		if err := c.syncNode(ctx, n); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}

func (c *cluster) syncNode(ctx context.Context, n NodeSpec) error {
	nodes := c.client.CoreV1().Nodes()
	cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cur, err = nodes.Create(ctx, NodeObject(n), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cur, err = nodes.Get(ctx, n.Name, metav1.GetOptions{})
		}
	}
	if err != nil {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if cur == nil {
			var gerr error
			if cur, gerr = nodes.Get(ctx, n.Name, metav1.GetOptions{}); gerr != nil {
				return gerr
			}
		}
		upd := cur.DeepCopy()
		upd.Status = NodeStatus(n, cur.Status, metav1.Now())
		_, uerr := nodes.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if uerr != nil {
			cur = nil
		}
		return uerr
	})
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints, changed := withoutStartupTaints(cur.Spec.Taints)
		if !changed {
			return nil
		}
		upd := cur.DeepCopy()
		upd.Spec.Taints = taints
		_, err = nodes.Update(ctx, upd, metav1.UpdateOptions{})
		return err
	})
}

// heartbeat renews the nodes' Ready condition (and recreates a node someone
// deleted). Failures are logged once until it works again.
func (c *cluster) heartbeat(ctx context.Context) {
	err := c.syncNodes(ctx)
	switch {
	case err != nil && c.healthy:
		c.log.Printf("node heartbeat failing: %s", kube.Short(err))
		c.healthy = false
	case err == nil && !c.healthy:
		c.log.Printf("node heartbeat works again")
		c.healthy = true
		// Statuses written while the apiserver was away may be missing.
		c.resyncAll()
	}
}

func (c *cluster) resyncAll() {
	pods, err := c.pods.List(everything)
	if err != nil {
		return
	}
	for _, p := range pods {
		c.enqueue(p)
	}
}
