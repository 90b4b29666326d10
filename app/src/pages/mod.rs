//! One module per route.

mod home;
mod not_found;
mod whoami;

pub use home::HomePage;
pub use not_found::NotFound;
pub use whoami::WhoAmIPage;
