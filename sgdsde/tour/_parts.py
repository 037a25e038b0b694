"""The parts of the tour and their titles (a module of its own, so that the command line can
list them without loading the tour)."""

PARTS: dict[str, str] = {
    "quadratic": "SGD and its SDEs on a quadratic and a double well",
    "learned": "SGD against its SDE on a learned surface (MNIST-1D)",
    "scaling": "Batch-size scaling: B_opt, the collapse in g, decay ε ≡ grow B",
    "evidence": "Bayesian evidence: random against informative labels, noise and flatness",
    "adaptive": "Scaling rules: square-root for Adam and RMSprop, linear for SGD (MNIST-1D)",
    "toolkit": "Beyond Smith & Le: gradient noise scale, the noisy quadratic model, SVAG",
}
