//! Schedules of a penalty's strength and shape over training: the linear warm-up of the
//! coefficient ([`LinearWarmup`]) and the anneal of [`Lp`](crate::Lp)'s exponent
//! ([`PAnneal`]). Both are functions of the 0-based optimizer step.

mod linear_warmup;
mod p_anneal;

pub use linear_warmup::*;
pub use p_anneal::*;
