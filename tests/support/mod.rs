//! Helpers shared by the integration tests: each test crate says `mod support;`.

// Every test crate compiles this module but uses a different part of it.
#![allow(dead_code)]

pub mod config;
pub mod csv;
pub mod daemon;
pub mod deployment;
pub mod mailsys;
pub mod oauth;
pub mod replies;
pub mod web;
