//! Reusable view pieces.

mod cluster_table;
mod error_template;
pub mod findings;
pub mod metrics;
mod status_badge;
mod user_menu;

pub use cluster_table::ClusterTable;
pub use error_template::ErrorTemplate;
pub use findings::Findings;
pub use status_badge::{Health, StatusBadge};
pub use user_menu::UserMenu;
