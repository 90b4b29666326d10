//! Gateway API HTTPRoutes, where the CRD exists.
//!
//! No gateway-api crate: the few fields the views need are deserialised straight from the watched
//! `DynamicObject` into [`HttpRoute`] (unknown fields are skipped, so every served version parses).

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::{Row, ns_name};

/// The API group of the Gateway API.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// The parts of an HTTPRoute that [`HttpRouteRow`] needs. The version is the one this crate names; the watch
/// uses whichever version the cluster prefers (see [`crate::watch`]).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HttpRoute {
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: HttpRouteSpec,
    /// Status.
    #[serde(default)]
    pub status: HttpRouteStatus,
}

/// `spec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteSpec {
    /// `parentRefs`.
    pub parent_refs: Vec<ParentRef>,
    /// `hostnames`.
    pub hostnames: Vec<String>,
    /// `rules`.
    pub rules: Vec<HttpRouteRule>,
}

/// A `parentRef` or `backendRef`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ParentRef {
    /// Kind (`Gateway` when unset for parents, `Service` for backends).
    pub kind: Option<String>,
    /// Namespace, unset: the route's.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `sectionName` (parents).
    pub section_name: Option<String>,
    /// Port.
    pub port: Option<i32>,
    /// `weight` (backends).
    pub weight: Option<i32>,
}

/// One rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteRule {
    /// `matches`.
    pub matches: Vec<HttpRouteMatch>,
    /// `backendRefs`.
    pub backend_refs: Vec<ParentRef>,
}

/// One match.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteMatch {
    /// `path`.
    pub path: Option<PathMatch>,
    /// `method`.
    pub method: Option<String>,
    /// `headers`: only their names are shown.
    pub headers: Vec<NamedMatch>,
}

/// `path`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PathMatch {
    /// `type`: `Exact`, `PathPrefix` (default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `value`.
    pub value: Option<String>,
}

/// A header or query match.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamedMatch {
    /// The name.
    pub name: String,
}

/// `status`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HttpRouteStatus {
    /// One entry per parent that has seen the route.
    pub parents: Vec<RouteParentStatus>,
}

/// `status.parents[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteParentStatus {
    /// Which parent.
    pub parent_ref: ParentRef,
    /// Its conditions.
    pub conditions: Vec<GatewayCondition>,
}

/// A condition.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct GatewayCondition {
    /// `type`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `status`.
    pub status: String,
}

impl kube::Resource for HttpRoute {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "HTTPRoute".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        GATEWAY_GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "httproutes".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// An HTTPRoute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRouteRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The parents: `Gateway/ns/name`, with `#section` when set.
    pub parents: Vec<String>,
    /// `hostnames`; empty: the parents' hosts.
    pub hostnames: Vec<String>,
    /// One entry per rule.
    pub rules: Vec<HttpRouteRuleRow>,
    /// Per parent: `Gateway/ns/name: Accepted=True, ResolvedRefs=True`.
    pub status: Vec<String>,
}

/// One rule of an HTTPRoute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRouteRuleRow {
    /// What matches: `PathPrefix /api`, `GET Exact /`, `PathPrefix / headers x-canary`. Empty: everything.
    pub matches: Vec<String>,
    /// Where it goes: `Service/checkout:80`, with ` weight 10` when set.
    pub backends: Vec<String>,
    /// The same, structured (what the Service page matches on).
    pub backend_refs: Vec<BackendRefRow>,
}

/// One `backendRef` of an HTTPRoute rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendRefRow {
    /// Kind, `Service` when unset.
    pub kind: String,
    /// Namespace, the route's when unset.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Port.
    pub port: Option<i32>,
    /// Weight.
    pub weight: Option<i32>,
}

fn ref_text(r: &ParentRef, default_kind: &str, namespace: &str) -> String {
    let kind = r.kind.as_deref().unwrap_or(default_kind);
    let ns = r.namespace.as_deref().unwrap_or(namespace);
    format!("{kind}/{ns}/{}", r.name)
}

fn match_text(m: &HttpRouteMatch) -> String {
    let mut parts = Vec::new();
    if let Some(method) = &m.method {
        parts.push(method.clone());
    }
    let path = m.path.clone().unwrap_or_default();
    parts.push(format!(
        "{} {}",
        path.type_.as_deref().unwrap_or("PathPrefix"),
        path.value.as_deref().unwrap_or("/")
    ));
    if !m.headers.is_empty() {
        let names: Vec<_> = m.headers.iter().map(|h| h.name.as_str()).collect();
        parts.push(format!("headers {}", names.join(", ")));
    }
    parts.join(" ")
}

impl From<&HttpRoute> for HttpRouteRow {
    fn from(r: &HttpRoute) -> Self {
        let (namespace, name) = ns_name(&r.metadata);
        let parents = r
            .spec
            .parent_refs
            .iter()
            .map(|p| {
                let base = ref_text(p, "Gateway", &namespace);
                p.section_name.as_ref().map_or(base.clone(), |s| format!("{base}#{s}"))
            })
            .collect();
        let rules = r
            .spec
            .rules
            .iter()
            .map(|rule| HttpRouteRuleRow {
                matches: rule.matches.iter().map(match_text).collect(),
                backends: rule
                    .backend_refs
                    .iter()
                    .map(|b| {
                        let kind = b.kind.as_deref().unwrap_or("Service");
                        let mut text = match b.namespace.as_deref().filter(|ns| *ns != namespace) {
                            Some(ns) => format!("{kind}/{ns}/{}", b.name),
                            None => format!("{kind}/{}", b.name),
                        };
                        if let Some(port) = b.port {
                            text.push_str(&format!(":{port}"));
                        }
                        if let Some(w) = b.weight {
                            text.push_str(&format!(" weight {w}"));
                        }
                        text
                    })
                    .collect(),
                backend_refs: rule
                    .backend_refs
                    .iter()
                    .map(|b| BackendRefRow {
                        kind: b.kind.clone().unwrap_or_else(|| "Service".to_owned()),
                        namespace: b.namespace.clone().unwrap_or_else(|| namespace.clone()),
                        name: b.name.clone(),
                        port: b.port,
                        weight: b.weight,
                    })
                    .collect(),
            })
            .collect();
        let status = r
            .status
            .parents
            .iter()
            .map(|p| {
                let conditions: Vec<_> =
                    p.conditions.iter().map(|c| format!("{}={}", c.type_, c.status)).collect();
                format!("{}: {}", ref_text(&p.parent_ref, "Gateway", &namespace), conditions.join(", "))
            })
            .collect();
        Self { namespace, name, parents, hostnames: r.spec.hostnames.clone(), rules, status }
    }
}

row!(HttpRouteRow, HttpRoute, namespaced);

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_route() -> HttpRoute {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"namespace": "team-a", "name": "shop", "managedFields": [{"manager": "kubectl"}]},
            "spec": {
                "parentRefs": [{"name": "edge", "namespace": "infra", "sectionName": "https"}],
                "hostnames": ["shop.example.com"],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET",
                                     "headers": [{"name": "x-canary", "value": "1"}]}],
                        "backendRefs": [{"name": "checkout", "port": 80, "weight": 90},
                                        {"name": "checkout-next", "namespace": "team-b", "port": 80, "weight": 10}],
                        "filters": [{"type": "RequestHeaderModifier"}]
                    },
                    {"backendRefs": [{"name": "web", "port": 8080}]}
                ]
            },
            "status": {"parents": [{
                "parentRef": {"name": "edge", "namespace": "infra"},
                "controllerName": "example.com/gateway",
                "conditions": [{"type": "Accepted", "status": "True"}, {"type": "ResolvedRefs", "status": "False"}]
            }]}
        }))
        .unwrap()
    }

    #[test]
    fn http_route_row_summarises_parents_matches_backends_and_status() {
        let row = HttpRouteRow::from(&mk_route());
        assert_eq!((row.namespace(), row.name()), ("team-a", "shop"));
        assert_eq!(row.parents, ["Gateway/infra/edge#https"]);
        assert_eq!(row.hostnames, ["shop.example.com"]);
        assert_eq!(row.rules[0].matches, ["GET PathPrefix /api headers x-canary"]);
        assert_eq!(
            row.rules[0].backends,
            ["Service/checkout:80 weight 90", "Service/team-b/checkout-next:80 weight 10"]
        );
        assert_eq!(
            row.rules[0].backend_refs[1],
            BackendRefRow {
                kind: "Service".into(),
                namespace: "team-b".into(),
                name: "checkout-next".into(),
                port: Some(80),
                weight: Some(10),
            }
        );
        assert_eq!(row.rules[1].backend_refs[0].namespace, "team-a", "unset: the route's namespace");
        assert!(row.rules[1].matches.is_empty());
        assert_eq!(row.rules[1].backends, ["Service/web:8080"]);
        assert_eq!(row.status, ["Gateway/infra/edge: Accepted=True, ResolvedRefs=False"]);
    }

    #[test]
    fn a_minimal_route_parses() {
        let route: HttpRoute =
            serde_json::from_value(serde_json::json!({"metadata": {"namespace": "n", "name": "r"}})).unwrap();
        let row = HttpRouteRow::from(&route);
        assert!(row.parents.is_empty() && row.rules.is_empty() && row.status.is_empty());
    }
}
