pub mod policy_test;
