"""The cost as a function of one flat float64 vector, and the one perturbation loop.

:class:`Objective` owns a private copy of the parameters (``theta0``) and a
working buffer whose views are handed to the user's cost in the user's own
container. Perturbing element ``i`` writes one number into the buffer and
restores it exactly afterwards, even if the cost raises (a move along a direction
is put back before the next evaluation); the caller's arrays are never seen by
the cost at all.
"""

from __future__ import annotations

import math
import pickle
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.exceptions import ComplexWarning

from ..errors import CostError, InputError
from .cost_values import _complex_value, cost_value
from .params import Layout

EPS = float(np.finfo(np.float64).eps)
#: eps^(1/3): the relative step that balances truncation against round-off in a centred difference.
CBRT_EPS = float(np.cbrt(EPS))
#: Peak working memory of one batch of perturbed parameter sets, in float64 numbers (32 MiB).
BATCH_NUMBERS = 4 * 1024 * 1024
#: Random points, besides the base point, at which the cost's round-off is measured.
NOISE_SAMPLES = 8
#: Offsets, in steps, of the points along a line the noise is measured on: five on each side, up
#: to one step, the scale the stencils work at (a cost quantised by a saturated log is smooth
#: over an eighth of a step and noisy over a step).
LINE_POINTS = np.array([-1.0, -0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0])
#: Coordinates the noise is measured along; the largest level is kept (one can be quiet: a dead
#: unit; the per-element stencils' worst, Objective.raise_noise, covers the rest).
LINES = 2
#: The residual of the least-squares fit of a cubic plus |t| to values at LINE_POINTS, as one
#: matrix: a change of slope at theta0 itself (ReLU exactly at 0) is fitted, not taken for
#: noise. J(theta0) stays out of the fit: an offset of that one value (its own round-off, which
#: every stencil shares) would look like such a kink and be fitted away.
_DESIGN = np.stack([LINE_POINTS**k for k in range(4)] + [np.abs(LINE_POINTS)], axis=1)
LINE_RESIDUAL = np.eye(LINE_POINTS.size) - _DESIGN @ np.linalg.pinv(_DESIGN)
#: The noise level over the largest residual of the line's fit: the residual of one of ten
#: values, five degrees of freedom left, understates how far one of the check's many
#: evaluations may stray.
NOISE_FACTOR = 4.0
#: How :meth:`Objective.noise` describes its floor when nothing was measured yet.
NOT_MEASURED = "floor 4 eps |J|, not measured"


def element_scales(theta: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """The per-element scale ``max(|theta_i|, scale_i)`` that every move of a parameter is a
    part of (the differences' steps, the nearby points' moves, the round-off probes).

    ``scale`` is the scale of the element's tensor (:attr:`Objective.step_scale`: its largest
    magnitude, capped at 1): parameters of size 1e-6 take steps of their own size, not 1e-6
    times bigger; an input of size 1e5 moves by a step it can feel.
    """
    return np.maximum(np.abs(theta), scale)


def step_sizes(theta: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """The per-element step ``eps**(1/3) * max(|theta_i|, scale_i)`` (:func:`element_scales`)."""
    return CBRT_EPS * element_scales(theta, scale)


class Objective:
    """A cost bound to a parameter layout and a base point.

    Parameters
    ----------
    cost : callable
        ``cost(params) -> float``, with ``params`` in the caller's container.
    layout : Layout
        From :func:`verifier.core.params.layout_of`.
    theta0 : ndarray, shape (P,)
        The base point (float64). It is copied, unless ``copy`` is False.
    rng : numpy.random.Generator, optional
        Source of the random points at which round-off is sampled (default: seed 0).
    batch : callable, optional
        ``batch(indices, steps) -> costs``: many perturbed costs at once, equal to the
        cost to within round-off (a layered network reusing its forward pass, or a
        vectorised cost). :meth:`stencil` uses it for real steps.
    extended : bool
        Measure round-off against long double (default). False skips those evaluations,
        for checks that must cost a few forward passes.
    executor : concurrent.futures.Executor, optional
        Where there is no ``batch``, :meth:`stencil` sends its evaluations to the executor's
        workers in tasks of a few elements (threads, processes, a dask cluster's
        ``get_executor()``): the same arithmetic, elsewhere, so the same values.
    value0 : float, optional
        The cost at ``theta0``, known already (a worker's copy of an objective): not
        evaluated again.
    copy : bool
        False: keep ``theta0`` itself (a float64 array the caller made for this objective
        and will not change; it is made read-only), saving a pass over P numbers.

    Attributes
    ----------
    value0 : float
        The cost at ``theta0``. A non-finite cost there raises :class:`CostError`.
    nfev : int
        Number of cost evaluations made through this object.
    """

    def __init__(
        self,
        cost: Callable[[Any], Any],
        layout: Layout,
        theta0: np.ndarray,
        rng: np.random.Generator | None = None,
        *,
        batch: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        extended: bool = True,
        copy: bool = True,
        executor: Any = None,
        value0: float | None = None,
    ) -> None:
        if not callable(cost):
            raise InputError(f"`cost` must be callable, got {type(cost).__name__}.")
        self.cost = cost
        self.layout = layout
        self.theta0 = np.array(theta0, dtype=np.float64) if copy else np.asarray(theta0, dtype=np.float64)
        self.theta0.setflags(write=False)
        self._buffer = self.theta0.copy()
        self._dirty: slice | np.ndarray | None = None
        # views into the buffer, made once; each evaluation gets a container of its own, so a
        # cost that rebinds an entry (p["w"] = p["w"].astype(float)) changes nothing for the next
        self._parts = layout.parts(self._buffer)
        self._rng = rng
        self._noise: tuple[float, str] | None = None
        #: The unit round-off a gradient re-run in long double came back in, when it came back
        #: narrower (None: not re-run, or it kept long double).
        self.extended_eps: float | None = None
        self._step_scale: np.ndarray | None = None
        self._typed_buffers: dict[Any, tuple[np.ndarray, list[Any], np.ndarray]] = {}
        self.batch = batch
        self.executor = executor
        self.extended = extended
        self.nfev = 0
        #: Told how many evaluations were made, as they are made (a progress display), or None.
        self.tick: Callable[[int], None] | None = None
        start = time.perf_counter()
        self.value0 = self._eval_base() if value0 is None else value0
        self.seconds_per_eval = self.last_seconds = time.perf_counter() - start
        if not math.isfinite(self.value0):
            raise CostError(
                f"`cost` is {self.value0} at the given parameters; a gradient check needs a"
                " finite cost (for cross-entropy: is a sigmoid output exactly 0 or 1?)."
            )

    @property
    def rng(self) -> np.random.Generator:
        """The generator of the sampled round-off points (seed 0 unless given; made on first use)."""
        if self._rng is None:
            self._rng = np.random.default_rng(0)
        return self._rng

    def structure(self, flat: np.ndarray | None = None) -> Any:
        """A fresh copy of ``flat`` (default ``theta0``) in the caller's container."""
        src = self.theta0 if flat is None else flat
        return self.layout.unflatten(np.array(src, dtype=np.float64, copy=True))

    def readonly(self) -> Any:
        """``theta0`` in the caller's container, as read-only views (no copy).

        For a call that only reads the parameters (the hand-written gradient), without a
        pass over P numbers to copy them; one that writes into them raises numpy's
        "read-only" ``ValueError`` (then give it :meth:`structure`).
        """
        return self.layout.unflatten(self.theta0)

    def _eval_base(self) -> float:
        # the buffer is at theta0 between evaluations (each restores it); not restoring it
        # all again here lets repeat_differs catch a cost that writes into its parameters
        self._clean()
        self.nfev += 1
        return cost_value(self.cost(self.layout.pack(self._parts)), where="at the given parameters")

    def __call__(self, x: np.ndarray) -> float:
        """The cost at flat point ``x`` (NaN if the cost is not finite there)."""
        self._clean()
        try:
            np.copyto(self._buffer, x)
            self.nfev += 1
            if self.tick is not None:
                self.tick(1)
            return cost_value(self.cost(self.layout.pack(self._parts)), where="at a perturbed point")
        finally:
            self._buffer[...] = self.theta0

    def repeat_differs(self) -> float:
        """Evaluate the cost at ``theta0`` again; return the absolute change (0 if deterministic).

        A cost that draws random numbers, or that wrote into the parameters it was given
        the first time, differs.
        """
        start = time.perf_counter()
        again = self._eval_base()
        self.last_seconds = time.perf_counter() - start
        return abs(again - self.value0)

    def stencil(self, indices: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The one perturbation loop: cost at ``theta0 + steps[n, k] * e_indices[n]``.

        Parameters
        ----------
        indices : ndarray of int, shape (n,)
            Flat indices to perturb, one at a time.
        steps : ndarray, shape (n, k)
            The offsets added to ``theta0[indices[n]]``. Real steps evaluate the cost in
            float64; complex steps (the complex-step method) in the steps' complex dtype,
            and then the cost's complex values are returned.

        Returns
        -------
        ndarray, shape (n, k)
            Cost values, of the steps' dtype (float64 for real steps); NaN where the cost
            was not finite.
        """
        self._clean()
        if self.batch is not None and steps.dtype.kind != "c":
            out = _stencil_costs(self.batch(np.asarray(indices), steps), steps.shape)
            self.nfev += out.size
            if self.tick is not None:
                self.tick(out.size)
            if not np.isfinite(out).all():
                out[~np.isfinite(out)] = np.nan
            return out
        if self.executor is not None and len(indices):
            return self._on_workers(np.asarray(indices), steps)
        if np.iscomplexobj(steps):
            buf, parts, base = self._typed(steps.dtype)
        else:
            buf, parts, base = self._buffer, self._parts, self.theta0
        out = np.empty(steps.shape, dtype=buf.dtype)
        cost, value, pack, tick = (
            self.cost,
            cost_value if buf.dtype == np.float64 else _complex_value,
            self.layout.pack,
            self.tick,
        )
        try:
            for n, i in enumerate(indices):
                for k, step in enumerate(steps[n]):
                    buf[i] = base[i] + step
                    v = cost(pack(parts))
                    if type(v) is not float and type(v) is not np.float64:  # else no message is needed
                        v = value(v, where=f"at {self.layout.label(i)} + {step:g}")
                    out[n, k] = v
                buf[i] = base[i]
                if tick is not None:
                    tick(len(steps[n]))
        finally:
            buf[...] = base
        self.nfev += out.size
        out[~np.isfinite(out)] = np.nan
        return out

    def _on_workers(self, indices: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """:meth:`stencil` on the executor's workers, :func:`task_size` elements a task."""
        per = task_size(indices.size)
        futures = [
            self.executor.submit(
                _worker_stencil,
                self.cost,
                self.layout,
                self.theta0,
                self.value0,
                indices[a : a + per],
                steps[a : a + per],
            )
            for a in range(0, indices.size, per)
        ]
        try:
            out = np.concatenate([f.result() for f in futures])
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            if "pickle" not in str(exc).lower():  # the cost's own error, raised on a worker
                raise
            raise InputError(
                "`executor`: its workers could not receive the cost"
                f" ({type(exc).__name__}: {exc}). A process pool pickles the cost: define it with"
                " `def` at a module's top level (not a lambda or a function inside a function), or"
                " use a thread pool, or no executor."
            ) from None
        self.nfev += out.size
        if self.tick is not None:
            self.tick(out.size)
        return out

    def along(self, support: np.ndarray | slice, direction: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Costs at ``theta0 + steps[k] * v``, ``v`` being ``direction`` on ``support`` (zero elsewhere).

        ``support`` is a slice or an array of flat indices. Only the support of the working
        buffer is written; it is put back to ``theta0`` exactly before the next evaluation
        (not at once: after the last evaluation of a check that would be a wasted pass).

        At a million parameters every pass over them costs about half a forward pass, and
        the page faults of a fresh array of them about two, so no such array is allocated and the
        points are visited in the order that takes fewest passes: on each side of
        ``theta0`` by increasing distance, each point one ``direction`` from the last is
        reached by adding it in place (a rounding of one ulp of ``theta0`` more than
        computing it afresh, far below the cost's own round-off), going back to ``theta0``
        by a copy in between. The steps ``[-2, -1, 1, 2]`` of a direction already scaled by
        the step size take four in-place additions and one copy.
        """
        self._clean()
        out = np.empty(len(steps), dtype=np.float64)
        buf, base = self._buffer, self.theta0
        part = support if isinstance(support, slice) else np.asarray(support)
        if isinstance(part, np.ndarray) and part.size and part[-1] - part[0] + 1 == part.size:
            part = slice(int(part[0]), int(part[-1]) + 1)  # contiguous: a slice writes in place
        origin, moved = base[part], buf[part]
        order = sorted(range(len(steps)), key=lambda k: (steps[k] > 0, abs(steps[k])))
        at = 0.0  # where the buffer is now, in steps along direction (_clean put it at theta0)
        self._dirty = part
        for k in order:
            step = float(steps[k])
            if not isinstance(part, slice):
                buf[part] = origin + direction * step
            else:  # moved is a view: the buffer changes in place
                if abs(step - at) != 1.0 and at != 0.0:
                    np.copyto(moved, origin)  # back to theta0: cheaper than a three-array pass
                    at = 0.0
                if step - at == 1.0:
                    np.add(moved, direction, out=moved)
                elif step - at == -1.0:
                    np.subtract(moved, direction, out=moved)
                else:
                    np.multiply(direction, step, out=moved)
                    np.add(origin, moved, out=moved)
            at = step
            out[k] = cost_value(
                self.cost(self.layout.pack(self._parts)), where=f"along a direction, step {step:g}"
            )
        self.nfev += out.size
        if self.tick is not None:
            self.tick(out.size)
        out[~np.isfinite(out)] = np.nan
        return out

    def _clean(self) -> None:
        """Put back the part of the working buffer the last :meth:`along` moved."""
        if self._dirty is not None:
            self._buffer[self._dirty] = self.theta0[self._dirty]
            self._dirty = None

    def _typed(self, dtype: np.dtype) -> tuple[np.ndarray, list[Any], np.ndarray]:
        """A working buffer of another dtype (complex, for the complex step), its views and base."""
        if dtype not in self._typed_buffers:
            base = self.theta0.astype(dtype)
            buf = base.copy()
            self._typed_buffers[dtype] = (buf, self.layout.parts(buf), base)
        return self._typed_buffers[dtype]

    @property
    def step_scale(self) -> np.ndarray:
        """Per element, the scale its step is taken relative to (see :func:`step_sizes`):
        the largest magnitude in its tensor, capped at 1, or 1 for an all-zero tensor."""
        if self._step_scale is None:
            largest = self.layout.tensor_max(self.theta0)
            self._step_scale = np.where(largest > 0, np.minimum(largest, 1.0), 1.0)
        return self._step_scale

    def noise(self, *, measure: bool = True) -> tuple[float, str]:
        """Absolute noise level of the cost near ``theta0``, and how it was found.

        Measured once, then cached; with ``measure=False`` and nothing measured yet, the
        floor ``4 * eps * |J|`` is returned without any evaluation (the fast mode asks for
        the measurement only before it convicts). The level is the largest of:

        * the floor ``4 * eps * |J(theta0)|``;
        * the noise the finite differences see (:meth:`_line_noise`): the residual of a
          cubic fitted to the cost at ten points along seeded coordinates through ``theta0``,
          one step each way. It sees every kind: round-off, float32 intermediates, a
          ``float()`` return, an adaptive solver's jitter, cancellation in a tiny cost;
        * where the platform has a long double and the cost keeps it (``extended``), twice
          the largest distance between the cost in float64 and in long double at
          ``theta0`` and :data:`NOISE_SAMPLES` seeded points within a step of it.
        """
        if self._noise is not None:
            return self._noise
        if not measure:
            return self._floor(), NOT_MEASURED
        self._noise = self._measure_noise()
        return self._noise

    def _floor(self) -> float:
        """The least noise any float64 cost has: ``4 * eps * |J(theta0)|``."""
        return 4 * EPS * abs(self.value0)

    def raise_noise(self, level: float, how: str, *, measure: bool = True) -> None:
        """Raise the noise level to ``level`` where a method saw more (the per-element stencils see
        the noise in every direction they move); every method's bound then uses it.

        ``measure=False`` takes ``level`` as this point's measurement when none was made (a
        point a small move from one whose noise was measured: the nearby point at kinks),
        instead of paying for a measurement of its own.
        """
        if not measure and self._noise is None:
            self._noise = (max(level, self._floor()), how)
            return
        current, _ = self.noise()
        if level > current:
            self._noise = (level, how)

    def _measure_noise(self) -> tuple[float, str]:
        levels = {"4 eps |J|": self._floor(), "measured along two coordinates": self._line_noise()}
        if self.extended and np.finfo(np.longdouble).eps < EPS:
            levels["measured against long double"] = self._extended_noise()
        how = max(levels, key=lambda k: levels[k])
        return levels[how], how

    def _line_noise(self) -> float:
        """The noise finite differences see: :data:`NOISE_FACTOR` times the largest residual
        of a cubic fitted to the cost at ten points along each of :data:`LINES` seeded
        coordinates through ``theta0``, one step each way (10 evaluations a line, batched
        where the objective has a batch stencil).

        Over a step a smooth cost is a cubic to far below round-off, so the residual is the
        noise of the values themselves. A change of slope at ``theta0`` itself is fitted
        too (a ``|t|`` term); one elsewhere on the line makes the level larger: bounds then
        widen, which can leave an element undecided but never convicts one.
        """
        size = self.layout.size
        # lines along seeded coordinates, as the per-element stencils move, through the one
        # perturbation loop (one batched call where the network offers a batch)
        at = np.sort(self.rng.choice(size, min(size, LINES), replace=False))
        values = self.stencil(at, step_sizes(self.theta0[at], self.step_scale[at])[:, None] * LINE_POINTS)
        rows = values[np.all(np.isfinite(values), axis=1)] - self.value0
        if not rows.size:
            return 0.0
        return NOISE_FACTOR * float(np.max(np.abs(rows @ LINE_RESIDUAL.T)))

    def _extended_noise(self) -> float:
        """Twice the largest float64 - long double distance of the cost near ``theta0`` (0 if
        the cost does not keep long double)."""
        step = step_sizes(self.theta0, self.step_scale)
        points = [self.theta0] + [
            self.theta0 + step * self.rng.uniform(-1.0, 1.0, self.theta0.shape) for _ in range(NOISE_SAMPLES)
        ]
        worst = 0.0
        for x in points:
            extended = self.extended_value(x)
            if extended is None:
                if x is self.theta0:
                    return 0.0
                continue
            value = self(x)
            if np.isfinite(value):
                worst = max(worst, float(abs(np.longdouble(value) - extended)))
        return 2 * worst

    def extended_gradient(self, gradient: Callable[[Any], Any]) -> np.ndarray | None:
        """``gradient`` (a function of the parameters returning their container) in long double, flat.

        The one place that re-runs a gradient in extended precision: autograd's, to bound
        its round-off, and the hand-written one, to bound its own. None where the platform
        has no long double, or the function raises, drops to float64, or is not finite.
        """
        if np.finfo(np.longdouble).eps >= EPS:
            return None
        layout = self.layout
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    result = gradient(layout.unflatten(self.theta0.astype(np.longdouble)))
                parts, _ = layout.collect(result, argument="gradient")
            if any(np.asarray(p).dtype != np.longdouble for p in parts):
                # the precision it did run in, for its round-off (a float32 np.dot, nnfs.init())
                kinds = [np.asarray(p).dtype for p in parts if np.asarray(p).dtype.kind in "fc"]
                self.extended_eps = max((float(np.finfo(k).eps) for k in kinds), default=EPS)
                return None
            out = np.concatenate([np.asarray(p).ravel() for p in parts])
        except Exception:
            return None
        return out if out.shape == (layout.size,) and np.all(np.isfinite(out)) else None

    def extended_value(self, x: np.ndarray | None = None) -> np.longdouble | None:
        """The cost at ``x`` (default ``theta0``) in ``np.longdouble``, or None if unavailable."""
        if np.finfo(np.longdouble).eps >= EPS:
            return None
        src = self.theta0 if x is None else x
        params = self.layout.unflatten(src.astype(np.longdouble))
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(self.cost(params))
        except Exception:
            return None
        finally:
            self.nfev += 1
        if value.ndim != 0 or value.dtype != np.longdouble or not np.isfinite(value):
            return None
        return np.longdouble(value)


#: Elements per task an executor's worker gets at most (:func:`task_size`).
TASK_ELEMENTS = 256
#: Tasks a stencil is cut into at least, where it has that many elements: enough that a few
#: workers share it evenly (a slow cost's check has few elements).
TASKS = 32


def task_size(n: int) -> int:
    """Elements per task when ``n`` elements go to an executor: at most :data:`TASK_ELEMENTS`,
    and few enough that there are :data:`TASKS` tasks (a count, never a measured time)."""
    return max(1, min(TASK_ELEMENTS, -(-n // TASKS)))


def _worker_stencil(
    cost: Any, layout: Layout, theta: np.ndarray, value0: float, indices: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """A worker's share of :meth:`Objective.stencil`, through an objective of its own.

    Complex steps are evaluated as the complex step evaluates them in the calling process
    (:func:`verifier.estimators.complex_step`): numpy's ``ComplexWarning``, an imaginary part
    dropped on the way, is an error, which reaches the caller through the task's result. A
    worker in another process does not share the caller's warning filters.
    """
    objective = Objective(cost, layout, theta, extended=False, value0=value0)
    if not np.iscomplexobj(steps):
        return objective.stencil(indices, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)
        with np.errstate(all="ignore"):
            return objective.stencil(indices, steps)


def _stencil_costs(returned: Any, shape: tuple[int, ...]) -> np.ndarray:
    """What a ``stencil`` hook returned, as float64 costs of the steps' shape, or the library's
    own error naming the hook and the shape it owes."""
    expected = (
        f"`stencil(indices, steps)` must return the costs as an array of the steps' shape"
        f" {shape} (entry [n, j]: the cost with steps[n, j] added to element indices[n])"
    )
    try:
        out = np.asarray(returned, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{expected}; it returned {type(returned).__name__}.") from None
    if out.shape != shape:
        got = "a scalar" if out.ndim == 0 else f"shape {out.shape}"
        raise InputError(f"{expected}; it returned {got}.")
    return out


def vectorized_stencil(
    cost: Callable[[Any], Any], layout: Layout, theta: np.ndarray
) -> Callable[..., np.ndarray]:
    """Perturbed costs in batches, for a cost that takes a stack of parameter sets.

    The contract (like SciPy's ``vectorized``): called with a container whose arrays
    have a leading batch axis, shape ``(k, *shape)``, the cost returns ``k`` costs,
    shape ``(k,)``. Batches hold at most :data:`BATCH_NUMBERS` numbers. The stencil's
    ``at(theta)`` is the same at other parameters (a nearby point's check).
    """
    return _Vectorized(cost, layout, theta)


class _Vectorized:
    """:func:`vectorized_stencil`'s stencil."""

    def __init__(self, cost: Callable[[Any], Any], layout: Layout, theta: np.ndarray) -> None:
        self.cost, self.layout, self.theta = cost, layout, theta

    def at(self, theta: np.ndarray) -> _Vectorized:
        return _Vectorized(self.cost, self.layout, theta)

    def __call__(self, indices: np.ndarray, steps: np.ndarray) -> np.ndarray:
        rows = np.repeat(np.asarray(indices), steps.shape[1])
        deltas = steps.ravel()
        per = max(1, BATCH_NUMBERS // max(self.layout.size, 1))
        parts = [self._batch(rows[a : a + per], deltas[a : a + per]) for a in range(0, rows.size, per)]
        if len(parts) == 1:
            return parts[0].reshape(steps.shape)
        return np.concatenate(parts).reshape(steps.shape) if parts else np.empty(steps.shape)

    def _batch(self, r: np.ndarray, d: np.ndarray) -> np.ndarray:
        stack = np.repeat(self.theta[None, :], r.size, axis=0)
        stack[np.arange(r.size), r] += d
        value = np.asarray(self.cost(self.layout.unflatten(stack)), dtype=np.float64)
        if value.shape != (r.size,):
            raise CostError(
                f"a vectorized `cost` given {r.size} parameter sets must return shape ({r.size},),"
                f" got {value.shape}."
            )
        return value
