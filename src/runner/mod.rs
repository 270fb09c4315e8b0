//! Playing scenarios against a target.
