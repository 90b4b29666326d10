//! One module per route.

mod home;
mod not_found;
mod services;
mod status;
mod whoami;

pub use home::HomePage;
pub use not_found::NotFound;
pub use services::ServicesPage;
pub use status::StatusPage;
pub use whoami::WhoAmIPage;
