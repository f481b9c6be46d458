"""Restricted Boltzmann machines with Gaussian visible units, in torch (EmoNets, section 3.2.2).

EmoNets pre-trains its audio network as a deep belief net: a first RBM with Gaussian visible
units and *bounded noisy rectified linear* hidden units, ``min(alpha, max(0, x + psi))`` with
``psi ~ N(0, sigmoid(x))`` and ``alpha = 6``, then Gaussian-Bernoulli RBMs, each trained with
contrastive divergence (CD-1; the paper also used stochastic maximum likelihood, SML). The RBMs
here are scikit-learn transformers like :class:`sklearn.neural_network.BernoulliRBM` (which
has binary visible units only): ``fit`` trains the RBM, ``transform`` gives the hidden units'
noise-free activations, so a stack of them is a ``Pipeline``.

Visible units have unit variance: standardise the input first (``StandardScaler``), as the
Gaussian RBM's energy ``||v - b||^2 / 2 - c.h - v.W.h`` assumes.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._sklearn import Interval, StrOptions, _fit_context

__all__ = [
    "NOISY_RELU_ALPHA",
    "GaussianBernoulliRBM",
    "GaussianReLURBM",
    "bounded_noisy_relu",
    "torch_generator",
]

#: Upper bound of EmoNets' noisy rectified linear units.
NOISY_RELU_ALPHA = 6.0


def torch_generator(random_state) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from a scikit-learn ``random_state``.

    An int gives the same generator every time; a ``RandomState`` advances (as scikit-learn
    estimators consume it); ``None`` draws a fresh seed from NumPy's global generator.
    """
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    return torch.Generator().manual_seed(seed)


def bounded_noisy_relu(
    x: torch.Tensor, alpha: float = NOISY_RELU_ALPHA, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A sample of EmoNets' bounded noisy ReLU: ``min(alpha, max(0, x + psi))``.

    ``psi ~ N(0, sigmoid(x))``: zero-mean Gaussian noise whose *standard deviation* is
    ``sigmoid(x)``, as the paper writes it (Nair and Hinton's noisy ReLU uses it as the
    variance). The result lies in ``[0, alpha]``.

    Parameters
    ----------
    x : Tensor
        Total inputs of the hidden units.
    alpha : float, default=6.0
    generator : torch.Generator, optional
        Source of the noise (on ``x``'s device).

    Examples
    --------
    >>> h = bounded_noisy_relu(torch.linspace(-20, 20, 101), generator=torch.Generator())
    >>> bool(h.min() >= 0 and h.max() <= 6)
    True
    """
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.clamp(x + noise * torch.sigmoid(x), 0.0, alpha)


class _BaseGaussianRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An RBM with unit-variance Gaussian visible units; subclasses set the hidden units.

    Subclasses define :meth:`_hidden_mean` (the hidden units' noise-free activation, what
    ``transform`` returns and what the learning statistics use) and :meth:`_hidden_sample`.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "l2": [Interval(numbers.Real, 0, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "method": [StrOptions({"cd1", "sml"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        n_components: int = 350,
        learning_rate: float = 6e-4,
        l2: float = 2e-3,
        n_epochs: int = 15,
        batch_size: int = 32,
        momentum: float = 0.0,
        method: str = "cd1",
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.l2 = l2
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.momentum = momentum
        self.method = method
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ hidden units
    def _hidden_mean(self, pre: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _hidden_sample(self, pre: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the RBM with CD-1 (or SML) on the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Standardised data (unit-variance Gaussian visible units). NaN or infinite
            values raise a ``ValueError``.
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype=np.float64)
        gen = torch_generator(self.random_state)
        data = torch.from_numpy(X.astype(np.float32))
        n, f = data.shape
        # Hinton's guide (2010): small random weights, hidden biases 0, visible biases at the
        # data mean (the Gaussian visible units' mean when the hidden units are off).
        W = torch.randn((f, self.n_components), generator=gen) * 0.01
        b = data.mean(dim=0)
        c = torch.zeros(self.n_components)
        velocity = [torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)]
        chains = None  # SML: the persistent negative particles (hidden states)
        errors = [self._reconstruction_error(data, W, b, c)]
        for epoch in range(self.n_epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, self.batch_size):
                v0 = data[order[start:start + self.batch_size]]
                pre0 = v0 @ W + c
                h0 = self._hidden_mean(pre0)
                if self.method == "cd1":
                    v1 = self._hidden_sample(pre0, gen) @ W.T + b
                else:
                    if chains is None or len(chains) != len(v0):
                        chains = self._hidden_sample(pre0, gen)
                    mean = chains @ W.T + b
                    v1 = mean + torch.randn(mean.shape, generator=gen)
                    chains = self._hidden_sample(v1 @ W + c, gen)
                h1 = self._hidden_mean(v1 @ W + c)
                m = len(v0)
                grads = (
                    (v0.T @ h0 - v1.T @ h1) / m - self.l2 * W,
                    (v0 - v1).mean(dim=0),
                    (h0 - h1).mean(dim=0),
                )
                for param, vel, grad in zip((W, b, c), velocity, grads):
                    vel.mul_(self.momentum).add_(grad, alpha=self.learning_rate)
                    param.add_(vel)
            errors.append(self._reconstruction_error(data, W, b, c))
            if self.verbose:
                print(f"[{type(self).__name__}] epoch {epoch + 1}: reconstruction error "
                      f"{errors[-1]:.4f}")
            if not np.isfinite(errors[-1]):
                raise ValueError(
                    f"{type(self).__name__} diverged at epoch {epoch + 1} (reconstruction "
                    f"error {errors[-1]}): lower learning_rate or standardise X"
                )
        self.components_ = W.T.numpy().astype(np.float64)
        self.intercept_visible_ = b.numpy().astype(np.float64)
        self.intercept_hidden_ = c.numpy().astype(np.float64)
        self.reconstruction_errors_ = np.asarray(errors)
        return self

    def _reconstruction_error(self, data, W, b, c) -> float:
        """Mean squared error of the mean-field reconstruction ``h(v) W^T + b``."""
        with torch.no_grad():
            recon = self._hidden_mean(data @ W + c) @ W.T + b
            return float(((data - recon) ** 2).mean())

    # ---------------------------------------------------------------------- inference
    def transform(self, X) -> np.ndarray:
        """The hidden units' noise-free activations.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "components_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        pre = X @ self.components_.T + self.intercept_hidden_
        return self._hidden_mean(torch.from_numpy(pre)).numpy()

    def reconstruct(self, X) -> np.ndarray:
        """Mean-field reconstruction of ``X``: ``transform(X) @ components_ + b``."""
        return self.transform(X) @ self.components_ + self.intercept_visible_

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


class GaussianReLURBM(_BaseGaussianRBM):
    """Gaussian visible units, bounded noisy ReLU hidden units (EmoNets' first layer).

    Hidden unit ``j`` samples ``min(alpha, max(0, x_j + psi))``, ``psi ~ N(0,
    sigmoid(x_j))``, from its total input ``x_j = v.W_j + c_j``
    (:func:`bounded_noisy_relu`); its noise-free activation ``min(alpha, max(0, x_j))`` is
    what :meth:`transform` returns and what the learning statistics use.

    Parameters
    ----------
    n_components : int, default=350
        Hidden units (the paper's 350 per layer).
    learning_rate : float, default=6e-4
        The paper's first-layer learning rate (mean gradient over a mini-batch).
    l2 : float, default=2e-3
        L2 penalty on the weights (the paper's first-layer value); biases have none.
    n_epochs : int, default=15
        Passes over the data (the paper's 15).
    batch_size : int, default=32
        Rows per update (the paper does not give it).
    momentum : float, default=0.0
        Momentum of the updates (the paper does not mention one).
    method : {"cd1", "sml"}, default="cd1"
        Contrastive divergence with one Gibbs step, or stochastic maximum likelihood
        (persistent CD: the negative phase continues ``batch_size`` Gibbs chains, sampling
        the Gaussian visible units, across updates). The paper used both, without saying
        which where.
    alpha : float, default=6.0
        Upper bound of the hidden units (the paper's 6: without it, large first-layer
        activations disturbed the training of the second RBM).
    random_state : int, RandomState instance or None, default=None
        Seeds the torch generator of the initial weights, the mini-batch order and the
        hidden (and SML visible) samples.
    verbose : int, default=0

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features_in_)
        Weights ``W`` (one row per hidden unit, as in ``BernoulliRBM``).
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features_in_,)
    reconstruction_errors_ : ndarray of shape (n_epochs + 1,)
        Mean squared error of the mean-field reconstruction of the training data before
        training (entry 0) and after every epoch.
    n_features_in_ : int
    feature_names_in_ : ndarray
        Only when ``X`` has string column names.

    See Also
    --------
    GaussianBernoulliRBM : binary hidden units (EmoNets' upper layers).
    sklearn.neural_network.BernoulliRBM : binary visible and hidden units.

    Notes
    -----
    Where skfer departs from (or fills in) the paper: the negative phase uses the mean of the
    Gaussian visible units given a sample of the hidden ones (Hinton's guide; SML samples
    them), weights start at ``N(0, 0.01^2)``, visible biases at the data mean, and the L2
    penalty adds ``-l2 * W`` to the weights' gradient.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(200, 5))
    >>> rbm = GaussianReLURBM(n_components=8, n_epochs=2, random_state=0).fit(X)
    >>> H = rbm.transform(X)
    >>> H.shape, bool(H.min() >= 0 and H.max() <= 6)
    ((200, 8), True)
    """

    _parameter_constraints: dict = {
        **_BaseGaussianRBM._parameter_constraints,
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        n_components: int = 350,
        learning_rate: float = 6e-4,
        l2: float = 2e-3,
        n_epochs: int = 15,
        batch_size: int = 32,
        momentum: float = 0.0,
        method: str = "cd1",
        alpha: float = NOISY_RELU_ALPHA,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            n_components=n_components, learning_rate=learning_rate, l2=l2, n_epochs=n_epochs,
            batch_size=batch_size, momentum=momentum, method=method,
            random_state=random_state, verbose=verbose,
        )
        self.alpha = alpha

    def _hidden_mean(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.clamp(pre, 0.0, self.alpha)

    def _hidden_sample(self, pre: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return bounded_noisy_relu(pre, self.alpha, generator)


class GaussianBernoulliRBM(_BaseGaussianRBM):
    """Gaussian visible units, binary hidden units (EmoNets' second and third layers).

    Hidden unit ``j`` is on with probability ``sigmoid(v.W_j + c_j)``; :meth:`transform`
    returns these probabilities.

    Parameters
    ----------
    n_components : int, default=350
    learning_rate : float, default=5e-4
        The paper's second-layer learning rate (its third layer: 1e-3).
    l2 : float, default=2e-4
        The paper's second-layer L2 penalty.
    n_epochs : int, default=15
    batch_size : int, default=32
    momentum : float, default=0.0
    method : {"cd1", "sml"}, default="cd1"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    components_, intercept_hidden_, intercept_visible_, reconstruction_errors_,
    n_features_in_, feature_names_in_
        See :class:`GaussianReLURBM`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(200, 5))
    >>> GaussianBernoulliRBM(n_components=8, n_epochs=2, random_state=0).fit_transform(X).shape
    (200, 8)
    """

    def __init__(
        self,
        *,
        n_components: int = 350,
        learning_rate: float = 5e-4,
        l2: float = 2e-4,
        n_epochs: int = 15,
        batch_size: int = 32,
        momentum: float = 0.0,
        method: str = "cd1",
        random_state=None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            n_components=n_components, learning_rate=learning_rate, l2=l2, n_epochs=n_epochs,
            batch_size=batch_size, momentum=momentum, method=method,
            random_state=random_state, verbose=verbose,
        )

    def _hidden_mean(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pre)

    def _hidden_sample(self, pre: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(pre), generator=generator)
