//! referrald: a self-hosted referral tracker.
//!
//! Mail flows through the crate in one direction, and the modules are laid out the same way:
//!
//! ```text
//! source ──▶ intake ──▶ store ──▶ planner ──▶ composer ──▶ outbox ──▶ transport
//! (files,    (classify:  (SQLite:   (which      (templates   (send what   (SMTP or
//!  IMAP)      pure)       the truth) mail, when) → messages)   is due)      .eml files)
//! ```
//!
//! Decisions are pure functions of (message, state, now): [`intake`] classifies a message,
//! [`planner`] decides what is due. Everything that touches the disk or the network stays at
//! the edges.

pub mod cli;
pub mod composer;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod export;
pub mod intake;
pub mod model;
pub mod net;
pub mod oauth;
pub mod outbox;
pub mod planner;
pub mod report;
pub mod source;
pub mod store;
pub mod subject;
pub mod transport;
pub mod web;
