//! `sae-mnist prune`: the MNIST classifier of `sae-mnist model` (784-512-256-10, trained in
//! Burn, or PyTorch's weights from `.npy` files), its two hidden layers pruned by magnitude,
//! global magnitude, Wanda or SparseGPT (`sparse_losses::prune`), evaluated, then fine-tuned one
//! epoch with the masks frozen and evaluated again: the settings and keys of
//! `torch_prune_mlp.py`.

pub mod cli;
pub mod setting;

pub use cli::main;
