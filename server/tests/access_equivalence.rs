//! RBAC equivalence over generated setups, against the local real fleet (`testenv up`).
//!
//! A seeded generator (xorshift, `FLEETPANE_EQ_SEED` to change the seed) makes RBAC setups: Roles and
//! ClusterRoles with `*` verbs, resources and apiGroups, `resourceNames`, aggregated ClusterRoles (filled by
//! the clusterrole-aggregation controller), the built-in `view`/`edit`/`admin`, RoleBindings to Roles and to
//! ClusterRoles, ClusterRoleBindings, and subjects that are users, the impersonable groups and
//! `system:authenticated`. Each setup is applied as admin to one cluster (round robin), and for every
//! identity the Services, Pods and EndpointSlices that Fleetpane serves (shared caches filtered by the
//! cluster's access decisions) must equal the impersonated direct LISTs, namespace by namespace.
//!
//! Everything lives in per-run namespaces `eq-<run>-{a,b,c}` and per-run cluster-scoped objects labelled
//! `fleetpane.test/run=<run>`; all of it is deleted at the end, also when a test fails.
//!
//! ```sh
//! LEPTOS_OUTPUT_NAME=fleetpane RUSTFLAGS="--cfg erase_components" \
//!   cargo test -p fleetpane-server --test access_equivalence --test faults -- --ignored --test-threads=1
//! ```

// Test helpers outside #[test] fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fleetenv.rs"]
mod fleetenv;

use std::{
    collections::{BTreeMap, BTreeSet},
    panic::AssertUnwindSafe,
    time::Duration,
};

use fleetenv::{ByNamespace, ClusterFacts, admin_client, facts, fleet, listed, run_id, served, within};
use fleetpane_server::{
    access::{self, Access},
    fleet::{Cluster, Fleet, Impersonation},
    watch::{Caches, ClusterCaches},
};
use futures::{FutureExt, future::join_all};
use k8s_openapi::{
    api::{
        core::v1::{Container, Namespace, Pod, PodSpec, Service, ServicePort, ServiceSpec},
        discovery::v1::EndpointSlice,
        rbac::v1::{
            AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
        },
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

const SUITE_LABEL: &str = "fleetpane.test/suite";
const SUITE: &str = "access-equivalence";
const RUN_LABEL: &str = "fleetpane.test/run";
const AGG_LABEL: &str = "fleetpane.test/aggregate-into";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const SETUPS: usize = 60;
/// How long a change may take to reach the apiserver's own authorizer.
const SETTLE: Duration = Duration::from_millis(250);
/// The groups Fleetpane's identity may impersonate (the fleet's `allowed_groups`).
const GROUPS: [&str; 4] = ["sre", "team-a", "team-b", "viewers"];

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The identities compared in every setup: synthetic users with impersonable groups (or none).
fn identities() -> Vec<Impersonation> {
    vec![
        Impersonation::new("eq-user-0@example.com", Vec::<String>::new()),
        Impersonation::new("eq-user-1@example.com", ["team-a"]),
        Impersonation::new("eq-user-2@example.com", ["team-b", "viewers"]),
        Impersonation::new("eq-user-3@example.com", ["viewers"]),
        Impersonation::new("eq-user-4@example.com", ["team-a", "team-b"]),
    ]
}

/// One generated setup: the RBAC objects to apply, and what it covers.
#[derive(Default)]
struct Setup {
    cluster: usize,
    roles: Vec<Role>,
    cluster_roles: Vec<ClusterRole>,
    role_bindings: Vec<RoleBinding>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    aggregates: Vec<String>,
    covers: BTreeSet<&'static str>,
}

/// Per-run names and labels.
struct Run {
    id: String,
    namespaces: Vec<String>,
}

impl Run {
    fn new() -> Self {
        let id = run_id();
        let namespaces = ["a", "b", "c"].iter().map(|s| format!("eq-{id}-{s}")).collect();
        Self { id, namespaces }
    }

    fn meta(&self, name: String, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: namespace.map(str::to_owned),
            labels: Some(BTreeMap::from([
                (SUITE_LABEL.to_owned(), SUITE.to_owned()),
                (RUN_LABEL.to_owned(), self.id.clone()),
            ])),
            ..Default::default()
        }
    }
}

fn gen_rule(rng: &mut Rng, covers: &mut BTreeSet<&'static str>) -> PolicyRule {
    const VERBS: [&[&str]; 6] =
        [&["list"], &["get", "list", "watch"], &["*"], &["get"], &["watch", "list"], &["create"]];
    const GROUPS: [&[&str]; 4] = [&[""], &["discovery.k8s.io"], &["*"], &["", "discovery.k8s.io"]];
    const RESOURCES: [&[&str]; 7] = [
        &["services"],
        &["pods"],
        &["endpointslices"],
        &["*"],
        &["services", "endpointslices"],
        &["pods", "services"],
        &["pods/log"],
    ];
    let verbs = *rng.pick(&VERBS);
    let groups = *rng.pick(&GROUPS);
    let resources = *rng.pick(&RESOURCES);
    const NAMES: [&[&str]; 2] = [&["svc-0"], &["pod-0", "svc-1"]];
    let resource_names = if rng.percent(15) { Some(strings(NAMES[rng.below(2)])) } else { None };
    if verbs.contains(&"*") {
        covers.insert("wildcard verbs");
    }
    if groups.contains(&"*") {
        covers.insert("wildcard apiGroups");
    }
    if resources.contains(&"*") {
        covers.insert("wildcard resources");
    }
    if resource_names.is_some() {
        covers.insert("resourceNames");
    }
    PolicyRule {
        verbs: strings(verbs),
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        resource_names,
        non_resource_urls: None,
    }
}

fn gen_rules(rng: &mut Rng, covers: &mut BTreeSet<&'static str>) -> Vec<PolicyRule> {
    (0..1 + rng.below(2)).map(|_| gen_rule(rng, covers)).collect()
}

fn gen_subjects(
    rng: &mut Rng,
    users: &[Impersonation],
    namespaced: bool,
    covers: &mut BTreeSet<&'static str>,
) -> Vec<Subject> {
    let group = |name: &str| Subject {
        kind: "Group".into(),
        api_group: Some(RBAC_GROUP.into()),
        name: name.into(),
        namespace: None,
    };
    (0..1 + rng.below(2))
        .map(|_| match rng.below(if namespaced { 5 } else { 4 }) {
            0 | 1 => {
                covers.insert("user subjects");
                Subject {
                    kind: "User".into(),
                    api_group: Some(RBAC_GROUP.into()),
                    name: rng.pick(users).user.clone(),
                    namespace: None,
                }
            }
            2 | 3 => {
                covers.insert("group subjects");
                // sre already sees everything through the fixtures: bind the others.
                group(GROUPS[1 + rng.below(GROUPS.len() - 1)])
            }
            // Only inside the run's namespaces: cluster-wide, it would widen every user's view.
            _ => {
                covers.insert("system:authenticated");
                group("system:authenticated")
            }
        })
        .collect()
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: Some(RBAC_GROUP.into()), kind: kind.into(), name: name.into() }
}

fn gen_setup(rng: &mut Rng, index: usize, clusters: usize, run: &Run, users: &[Impersonation]) -> Setup {
    let mut s = Setup { cluster: index % clusters, ..Default::default() };
    for g in 0..1 + rng.below(3) {
        let base = format!("eq-{}-s{index}-g{g}", run.id);
        let ns = rng.pick(&run.namespaces).clone();
        // The role: a Role, a ClusterRole, an aggregated ClusterRole or a built-in one.
        let (kind, name) = match rng.below(4) {
            0 => {
                s.covers.insert("Roles");
                let rules = gen_rules(rng, &mut s.covers);
                s.roles.push(Role { metadata: run.meta(base.clone(), Some(&ns)), rules: Some(rules) });
                ("Role", base.clone())
            }
            1 => {
                s.covers.insert("ClusterRoles");
                let rules = gen_rules(rng, &mut s.covers);
                s.cluster_roles.push(ClusterRole {
                    metadata: run.meta(base.clone(), None),
                    rules: Some(rules),
                    aggregation_rule: None,
                });
                ("ClusterRole", base.clone())
            }
            2 => {
                s.covers.insert("aggregated ClusterRoles");
                s.cluster_roles.push(ClusterRole {
                    metadata: run.meta(base.clone(), None),
                    rules: None,
                    aggregation_rule: Some(AggregationRule {
                        cluster_role_selectors: Some(vec![LabelSelector {
                            match_labels: Some(BTreeMap::from([(AGG_LABEL.to_owned(), base.clone())])),
                            ..Default::default()
                        }]),
                    }),
                });
                for part in 0..1 + rng.below(2) {
                    let mut meta = run.meta(format!("{base}-part{part}"), None);
                    meta.labels.get_or_insert_default().insert(AGG_LABEL.to_owned(), base.clone());
                    let rules = gen_rules(rng, &mut s.covers);
                    s.cluster_roles.push(ClusterRole {
                        metadata: meta,
                        rules: Some(rules),
                        aggregation_rule: None,
                    });
                }
                s.aggregates.push(base.clone());
                ("ClusterRole", base.clone())
            }
            _ => {
                s.covers.insert("built-in ClusterRoles");
                ("ClusterRole", (*rng.pick(&["view", "edit", "admin"])).to_owned())
            }
        };
        if kind == "Role" || rng.percent(60) {
            if kind == "ClusterRole" {
                s.covers.insert("RoleBindings to ClusterRoles");
            }
            let subjects = gen_subjects(rng, users, true, &mut s.covers);
            s.role_bindings.push(RoleBinding {
                metadata: run.meta(base.clone(), Some(&ns)),
                role_ref: role_ref(kind, &name),
                subjects: Some(subjects),
            });
        } else {
            s.covers.insert("ClusterRoleBindings");
            let subjects = gen_subjects(rng, users, false, &mut s.covers);
            s.cluster_role_bindings.push(ClusterRoleBinding {
                metadata: run.meta(base.clone(), None),
                role_ref: role_ref(kind, &name),
                subjects: Some(subjects),
            });
        }
    }
    s
}

fn generate(seed: u64, count: usize, clusters: usize, run: &Run) -> Vec<Setup> {
    let mut rng = Rng(seed | 1);
    let users = identities();
    (0..count).map(|i| gen_setup(&mut rng, i, clusters, run, &users)).collect()
}

fn seed() -> u64 {
    std::env::var("FLEETPANE_EQ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_f1ee_7a9e)
}

async fn apply(admin: &kube::Client, s: &Setup) {
    let pp = PostParams::default();
    for r in &s.roles {
        let ns = r.metadata.namespace.as_deref().unwrap();
        Api::<Role>::namespaced(admin.clone(), ns).create(&pp, r).await.unwrap();
    }
    for r in &s.cluster_roles {
        Api::<ClusterRole>::all(admin.clone()).create(&pp, r).await.unwrap();
    }
    for b in &s.role_bindings {
        let ns = b.metadata.namespace.as_deref().unwrap();
        Api::<RoleBinding>::namespaced(admin.clone(), ns).create(&pp, b).await.unwrap();
    }
    for b in &s.cluster_role_bindings {
        Api::<ClusterRoleBinding>::all(admin.clone()).create(&pp, b).await.unwrap();
    }
    // The aggregation controller fills aggregated roles asynchronously: compare only once it has.
    for name in &s.aggregates {
        let api = Api::<ClusterRole>::all(admin.clone());
        let filled = within(Duration::from_secs(10), || async {
            api.get(name).await.unwrap().rules.is_some_and(|r| !r.is_empty())
        })
        .await;
        assert!(filled.is_some(), "aggregated ClusterRole {name} not filled within 10 s");
    }
}

async fn remove(admin: &kube::Client, s: &Setup) {
    let dp = DeleteParams::default();
    for b in &s.cluster_role_bindings {
        let _ = Api::<ClusterRoleBinding>::all(admin.clone())
            .delete(b.metadata.name.as_deref().unwrap(), &dp)
            .await;
    }
    for b in &s.role_bindings {
        let ns = b.metadata.namespace.as_deref().unwrap();
        let _ = Api::<RoleBinding>::namespaced(admin.clone(), ns)
            .delete(b.metadata.name.as_deref().unwrap(), &dp)
            .await;
    }
    for r in &s.cluster_roles {
        let _ = Api::<ClusterRole>::all(admin.clone()).delete(r.metadata.name.as_deref().unwrap(), &dp).await;
    }
    for r in &s.roles {
        let ns = r.metadata.namespace.as_deref().unwrap();
        let _ =
            Api::<Role>::namespaced(admin.clone(), ns).delete(r.metadata.name.as_deref().unwrap(), &dp).await;
    }
}

/// Deletes this suite's namespaces and cluster-scoped RBAC objects (of `run`, or of every run).
async fn clean_up(admins: &[kube::Client], run: Option<&str>) {
    let selector = match run {
        Some(id) => format!("{RUN_LABEL}={id}"),
        None => format!("{SUITE_LABEL}={SUITE}"),
    };
    let lp = ListParams::default().labels(&selector);
    let dp = DeleteParams::default();
    for admin in admins {
        let _ = Api::<ClusterRoleBinding>::all(admin.clone()).delete_collection(&dp, &lp).await;
        let _ = Api::<ClusterRole>::all(admin.clone()).delete_collection(&dp, &lp).await;
        let namespaces = Api::<Namespace>::all(admin.clone());
        if let Ok(list) = namespaces.list(&lp).await {
            for ns in list.items {
                let _ = namespaces.delete(ns.metadata.name.as_deref().unwrap_or_default(), &dp).await;
            }
        }
    }
}

/// Runs `body`, then deletes the run's objects whatever happened.
async fn with_clean_up<F: std::future::Future<Output = ()>>(admins: &[kube::Client], run: &Run, body: F) {
    clean_up(admins, None).await;
    let result = AssertUnwindSafe(body).catch_unwind().await;
    clean_up(admins, Some(&run.id)).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The fixtures in each test namespace: Services svc-0, svc-1 (with selectors, so the endpointslice
/// controller makes their slices) and Pods pod-0..2.
async fn create_fixtures(admin: &kube::Client, run: &Run, namespaces: &[String]) {
    let pp = PostParams::default();
    for ns in namespaces {
        Api::<Namespace>::all(admin.clone())
            .create(&pp, &Namespace { metadata: run.meta(ns.clone(), None), ..Default::default() })
            .await
            .unwrap();
        for i in 0..2 {
            let service = Service {
                metadata: ObjectMeta { name: Some(format!("svc-{i}")), ..Default::default() },
                spec: Some(ServiceSpec {
                    selector: Some(BTreeMap::from([("app".to_owned(), format!("svc-{i}"))])),
                    ports: Some(vec![ServicePort { port: 80, ..Default::default() }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            Api::<Service>::namespaced(admin.clone(), ns).create(&pp, &service).await.unwrap();
        }
        for i in 0..3 {
            let pod = Pod {
                metadata: ObjectMeta {
                    name: Some(format!("pod-{i}")),
                    labels: Some(BTreeMap::from([("app".to_owned(), format!("svc-{}", i % 2))])),
                    ..Default::default()
                },
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".into(),
                        image: Some("fleetpane-demo/eq:1".into()),
                        ..Default::default()
                    }],
                    automount_service_account_token: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            };
            // Admission wants the namespace's default ServiceAccount, which its controller adds shortly.
            let pods = Api::<Pod>::namespaced(admin.clone(), ns);
            let created =
                within(Duration::from_secs(15), || async { pods.create(&pp, &pod).await.is_ok() }).await;
            assert!(created.is_some(), "{ns}: pod-{i} not created within 15 s");
        }
    }
}

/// Waits until the caches hold every fixture (slices come from the controller).
async fn wait_for_fixtures(caches: &ClusterCaches, namespaces: &[String]) {
    let ready = within(Duration::from_secs(30), || async {
        namespaces.iter().all(|ns| {
            caches.services.read().in_namespace(ns).count() == 2
                && caches.pods.read().in_namespace(ns).count() == 3
                && caches.endpoint_slices.read().in_namespace(ns).count() >= 2
        })
    })
    .await;
    assert!(ready.is_some(), "fixtures not in the caches within 30 s");
}

/// One identity's three answers, each as (direct LISTs, Fleetpane).
async fn compare(
    access: &Access,
    caches: &ClusterCaches,
    cluster: &Cluster,
    who: &Impersonation,
    namespaces: &[String],
) -> [(ByNamespace, ByNamespace); 3] {
    let name = cluster.name();
    let (services, pods, slices) = futures::join!(
        async {
            futures::join!(
                listed::<Service>(cluster, who, namespaces),
                served(access, &caches.services, name, who, access::SERVICES, namespaces)
            )
        },
        async {
            futures::join!(
                listed::<Pod>(cluster, who, namespaces),
                served(access, &caches.pods, name, who, access::PODS, namespaces)
            )
        },
        async {
            futures::join!(
                listed::<EndpointSlice>(cluster, who, namespaces),
                served(access, &caches.endpoint_slices, name, who, access::ENDPOINT_SLICES, namespaces)
            )
        },
    );
    [services, pods, slices]
}

const KINDS: [&str; 3] = ["services", "pods", "endpointslices"];

/// Every identity's answers; `None` when all are equal, else a description of the differences.
async fn differences(
    access: &Access,
    caches: &ClusterCaches,
    cluster: &Cluster,
    people: &[Impersonation],
    namespaces: &[String],
) -> (Option<String>, Vec<[ByNamespace; 3]>) {
    let answers = join_all(people.iter().map(|who| compare(access, caches, cluster, who, namespaces))).await;
    let mut diff = String::new();
    let mut views = Vec::new();
    for (who, answer) in people.iter().zip(answers) {
        for (kind, (direct, fleetpane)) in KINDS.iter().zip(&answer) {
            if direct != fleetpane {
                diff += &format!(
                    "\n {} {kind} as {} {:?}:\n  direct LISTs: {direct:?}\n  Fleetpane:    {fleetpane:?}",
                    cluster.name(),
                    who.user,
                    who.groups
                );
            }
        }
        views.push(answer.map(|(direct, _)| direct));
    }
    ((!diff.is_empty()).then_some(diff), views)
}

/// Starts the caches and decisions on the whole fleet and waits until they are live.
async fn start(fleet: &Fleet) -> (Caches, Access) {
    let caches = Caches::start(fleet);
    let access = Access::start(fleet, access::DECISION_TTL);
    assert!(caches.wait_until_live(Duration::from_secs(30)).await, "caches not live within 30 s");
    (caches, access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn generated_rbac_setups_serve_exactly_the_impersonated_lists() {
    let facts = facts();
    let fleet = fleet();
    let admins: Vec<_> = facts.clusters.iter().map(admin_client).collect();
    let run = Run::new();
    let setups = generate(seed(), SETUPS, fleet.clusters().len(), &run);

    // What the generator covers, in at least 3 setups each.
    let mut coverage: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &setups {
        for c in &s.covers {
            *coverage.entry(c).or_default() += 1;
        }
    }
    for feature in [
        "Roles",
        "ClusterRoles",
        "aggregated ClusterRoles",
        "built-in ClusterRoles",
        "RoleBindings to ClusterRoles",
        "ClusterRoleBindings",
        "wildcard verbs",
        "wildcard apiGroups",
        "wildcard resources",
        "resourceNames",
        "user subjects",
        "group subjects",
        "system:authenticated",
    ] {
        assert!(
            coverage.get(feature).copied().unwrap_or(0) >= 3,
            "too few setups with {feature}: {coverage:?}"
        );
    }

    with_clean_up(
        &admins,
        &run,
        Box::pin(async {
            let (caches, access) = start(&fleet).await;
            for admin in &admins {
                create_fixtures(admin, &run, &run.namespaces).await;
            }
            for cluster in fleet.clusters() {
                wait_for_fixtures(caches.cluster(cluster.name()).unwrap(), &run.namespaces).await;
            }
            let people = identities();

            // Without any setup: the baseline views, to count the setups that change something.
            let mut baseline = Vec::new();
            for cluster in fleet.clusters() {
                let c = caches.cluster(cluster.name()).unwrap();
                let (diff, views) = differences(&access, c, cluster, &people, &run.namespaces).await;
                assert!(diff.is_none(), "before any setup:{}", diff.unwrap_or_default());
                baseline.push(views);
            }

            let started = std::time::Instant::now();
            let (mut changed, mut cells, mut visible, mut slowest) = (0, 0, 0, Duration::ZERO);
            for (i, s) in setups.iter().enumerate() {
                let cluster = &fleet.clusters()[s.cluster];
                let c = caches.cluster(cluster.name()).unwrap();
                let admin = &admins[s.cluster];
                apply(admin, s).await;
                // The apiserver's authorizer follows RBAC through an informer: let it catch up, so that the
                // comparison tests this setup and not the previous one.
                tokio::time::sleep(SETTLE).await;
                // Equal within 5 s of the change: the RBAC watch drops the stale decisions, the apiserver's
                // authorizer catches up; a lasting difference is a leak or a miss.
                let t0 = std::time::Instant::now();
                let views = loop {
                    let (diff, views) = differences(&access, c, cluster, &people, &run.namespaces).await;
                    match diff {
                        None => break views,
                        Some(diff) if t0.elapsed() >= Duration::from_secs(5) => {
                            remove(admin, s).await;
                            panic!("setup {i} on {}, 5 s after the change:{diff}", cluster.name());
                        }
                        Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                };
                remove(admin, s).await;
                slowest = slowest.max(t0.elapsed());
                if views != baseline[s.cluster] {
                    changed += 1;
                }
                for view in &views {
                    for kind in view {
                        cells += run.namespaces.len();
                        visible += kind.len();
                    }
                }
            }
            eprintln!(
                "{} setups in {:.1?} (slowest to converge {slowest:.1?}); {changed} changed someone's view; \
             {visible} of {cells} (identity, kind, namespace) cells visible; coverage {coverage:?}",
                setups.len(),
                started.elapsed()
            );
            // Not vacuous: the setups change what people see, and the views are neither all empty nor all full.
            assert!(changed * 2 >= setups.len(), "only {changed} of {} setups changed a view", setups.len());
            assert!(visible * 10 >= cells && visible * 10 <= cells * 9, "{visible} of {cells} cells visible");
        }),
    )
    .await;
}

/// What Fleetpane shows `who` of one kind in `namespace` of `cluster`.
async fn shown_services(
    access: &Access,
    caches: &ClusterCaches,
    cluster: &str,
    who: &Impersonation,
    namespace: &str,
) -> BTreeSet<String> {
    let ns = [namespace.to_owned()];
    served(access, &caches.services, cluster, who, access::SERVICES, &ns)
        .await
        .remove(namespace)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local fleet: run via ./dev test"]
async fn a_revoked_grant_disappears_from_fleetpanes_answers_within_5_s() {
    let facts = facts();
    let fleet = fleet();
    let admins: Vec<_> = facts.clusters.iter().map(admin_client).collect();
    let run = Run::new();
    let c: &ClusterFacts = &facts.clusters[0];
    let admin = &admins[0];
    let cluster = fleet.clusters()[0].name().to_owned();
    let ns = run.namespaces[0].clone();

    with_clean_up(&admins, &run, Box::pin(async {
        let (caches, access) = start(&fleet).await;
        create_fixtures(admin, &run, std::slice::from_ref(&ns)).await;
        let cc = caches.cluster(&cluster).unwrap();
        wait_for_fixtures(cc, std::slice::from_ref(&ns)).await;
        let who = Impersonation::new("eq-revoked@example.com", ["team-b"]);
        let all: BTreeSet<String> = ["svc-0", "svc-1"].map(str::to_owned).into();
        let shown = || shown_services(&access, cc, &cluster, &who, &ns);
        assert!(shown().await.is_empty(), "{}: before any grant", c.name);

        let pp = PostParams::default();
        let dp = DeleteParams::default();
        let role_name = format!("eq-{}-revoke", run.id);
        let cluster_roles = Api::<ClusterRole>::all(admin.clone());
        let role = ClusterRole {
            metadata: run.meta(role_name.clone(), None),
            rules: Some(vec![PolicyRule {
                verbs: strings(&["list"]),
                api_groups: Some(strings(&[""])),
                resources: Some(strings(&["services"])),
                ..Default::default()
            }]),
            aggregation_rule: None,
        };
        let user = Subject {
            kind: "User".into(),
            api_group: Some(RBAC_GROUP.into()),
            name: who.user.clone(),
            namespace: None,
        };
        let group = Subject { kind: "Group".into(), name: "team-b".into(), ..user.clone() };
        let role_bindings = Api::<RoleBinding>::namespaced(admin.clone(), &ns);
        let cluster_bindings = Api::<ClusterRoleBinding>::all(admin.clone());
        let limit = Duration::from_secs(5);
        let mut times = Vec::new();

        // Each way to revoke: grant, see it within 5 s, revoke, measure until it is gone.
        for how in
            ["delete the RoleBinding", "drop the group from the ClusterRoleBinding", "delete the ClusterRole"]
        {
            cluster_roles.create(&pp, &role).await.unwrap();
            match how {
                "delete the RoleBinding" => {
                    let binding = RoleBinding {
                        metadata: run.meta(role_name.clone(), Some(&ns)),
                        role_ref: role_ref("ClusterRole", &role_name),
                        subjects: Some(vec![user.clone()]),
                    };
                    role_bindings.create(&pp, &binding).await.unwrap();
                }
                _ => {
                    let binding = ClusterRoleBinding {
                        metadata: run.meta(role_name.clone(), None),
                        role_ref: role_ref("ClusterRole", &role_name),
                        subjects: Some(vec![group.clone()]),
                    };
                    cluster_bindings.create(&pp, &binding).await.unwrap();
                }
            }
            let granted = within(limit, || async { shown().await == all }).await;
            assert!(granted.is_some(), "{how}: the grant never showed");

            let t0 = std::time::Instant::now();
            match how {
                "delete the RoleBinding" => {
                    role_bindings.delete(&role_name, &dp).await.unwrap();
                }
                "drop the group from the ClusterRoleBinding" => {
                    let mut binding = cluster_bindings.get(&role_name).await.unwrap();
                    let nobody = Subject { name: "eq-nobody@example.com".into(), ..user.clone() };
                    binding.subjects = Some(vec![nobody]);
                    cluster_bindings.replace(&role_name, &pp, &binding).await.unwrap();
                }
                _ => {
                    cluster_roles.delete(&role_name, &dp).await.unwrap();
                }
            }
            // Poll Fleetpane's answer and the cluster's own (a direct LIST) side by side, for up to 10 s.
            let (mut fleetpane_gone, mut cluster_gone) = (None, None);
            let target = fleet.clusters()[0].clone();
            let one_ns = std::slice::from_ref(&ns);
            while t0.elapsed() < 2 * limit && (fleetpane_gone.is_none() || cluster_gone.is_none()) {
                if fleetpane_gone.is_none() && shown().await.is_empty() {
                    fleetpane_gone = Some(t0.elapsed());
                }
                if cluster_gone.is_none() && listed::<Service>(&target, &who, one_ns).await.is_empty() {
                    cluster_gone = Some(t0.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = role_bindings.delete(&role_name, &dp).await;
            let _ = cluster_bindings.delete(&role_name, &dp).await;
            let _ = cluster_roles.delete(&role_name, &dp).await;
            let took = fleetpane_gone.unwrap_or(t0.elapsed());
            assert!(
                fleetpane_gone.is_some_and(|t| t < limit),
                "{how}: gone from Fleetpane's answers after {fleetpane_gone:?}, from the cluster's own LIST \
                 after {cluster_gone:?} (limit {limit:?})"
            );
            assert!(cluster_gone.is_some(), "{how}: the cluster still allows the LIST after {:?}", 2 * limit);
            times.push((how, took, cluster_gone));
            // Let the deletions settle before the next grant.
            assert!(within(limit, || async { shown().await.is_empty() }).await.is_some());
        }
        eprintln!("revocations gone from (Fleetpane, the cluster's own LIST) after {times:?}");
    }))
    .await;
}
