//! Schedules of a penalty's strength and shape over training: the linear warm-up of the
//! coefficient ([`LinearWarmup`]), the anneal of [`Lp`](crate::Lp)'s exponent ([`PAnneal`])
//! and of [`LogSum`](crate::LogSum)'s scale ([`EpsAnneal`]). All are functions of the 0-based
//! optimizer step.

mod eps_anneal;
mod linear_warmup;
mod p_anneal;

pub use eps_anneal::*;
pub use linear_warmup::*;
pub use p_anneal::*;
