//! The SMTP peer the mail tests send to lives in `custode-testkit` (the
//! web face's tests use it too).

#![allow(unused_imports)] // each test file uses what it needs

pub use custode_testkit::smtp::*;
