//! One module per route.

mod drift;
mod home;
mod not_found;
mod reach;
mod service;
mod services;
mod status;
mod triage;
mod whoami;

pub use drift::{DriftListPage, DriftServicePage, drift_href};
pub use home::HomePage;
pub use not_found::NotFound;
pub use reach::ReachPage;
pub use service::ServicePage;
pub use services::ServicesPage;
pub use status::StatusPage;
pub use triage::TriagePage;
pub use whoami::WhoAmIPage;
