//! Reusable view pieces.

mod cluster_table;
mod error_template;
pub mod findings;
pub mod metrics;
mod status_badge;
pub mod switcher;
mod user_menu;

pub use cluster_table::ClusterTable;
pub use error_template::ErrorTemplate;
pub use findings::Findings;
pub use status_badge::{Health, StatusBadge};
pub use switcher::QuickSwitcher;
pub use user_menu::UserMenu;
