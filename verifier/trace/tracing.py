r"""autograd on the user's own numpy code: the switch, the gaps, the failure, the intermediates.

The users' code is plain numpy: ``np.dot``, helpers in a module beside the notebook,
``float(cost)``, ``W.dot(X)``, ``x.reshape(N, -1)``, ``A[Z < 0] = 0``. autograd traces only
``autograd.numpy``. This module lets it trace such code as written:

* :func:`autograd_session` is the one context every trace runs in. While it lasts,

  - plain numpy refuses a traced value (``ArrayBox.__array__`` raises
    :class:`PlainNumpyError`) instead of building an object array of traced numbers, so
    a trace that cannot succeed fails at once, at the user's line;
  - traced arrays get the ndarray methods real code calls (``.dot``, ``.transpose(*axes)``,
    ``.reshape(*shape)``, ``.copy()``, ``.item()``) and item assignment (``A[Z < 0] = 0``,
    ``A[i] += v``): the box takes the traced value of the updated copy, which is what
    numpy's in-place write means for everything computed afterwards;
  - with ``resolve=True``, every module of the user's own code reachable from the cost
    (through helpers, closures, classes, methods, imported modules) sees ``numpy`` as a
    namespace of ``autograd.numpy`` (also ``from numpy import dot`` and ``float()``),
    never inside numpy, scipy, autograd or this library; all is restored afterwards,
    also when the trace raises.

* :func:`refusal` words why a trace failed: the file, the line, the operation and the fix.

* :func:`traced_locals` traces the cost once, recording the values the user's forward
  assigns (its locals, or the entries of a dict it keeps: the frames on the stack whenever a
  traced array is made, read when the trace is over), and :func:`backward` gives, in one
  pass, autograd's gradient with respect to the parameters and to each of those values: the
  reference for the parameters and for a backward's ``dZ2``, ``dA1``, from the same trace.

While a session is open the process's numpy is rebound in those modules: do not run
the user's code from another thread meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from autograd.extend import VSpace
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import Box

from .gaps import (
    ARRAY_METHODS,
    DataArray,
    Session,
    TracedNumpy,
)
from .rebinding import Patches, resolve_numpy

# ---------------------------------------------------------------------------------------------
# the gaps: primitives and methods real code needs on traced values


# ---------------------------------------------------------------------------------------------
# numpy as autograd.numpy, in the user's modules


# autograd looks its boxes and vector spaces up by exact type: a data array is an ndarray to it
Box.type_mappings[DataArray] = ArrayBox
VSpace.mappings[DataArray] = VSpace.mappings[np.ndarray]


@contextmanager
def autograd_session(root: Any = None, *, resolve: bool = False, tolerant: bool = False) -> Iterator[Session]:
    """The context every autograd trace of user code runs in (see the module's notes).

    Parameters
    ----------
    root : callable, optional
        The cost; with ``resolve=True``, the user modules reachable from it see numpy as
        ``autograd.numpy`` while the context lasts.
    resolve : bool
    tolerant : bool
        The cost returns its hand-written gradients beside its loss: plain numpy may take the
        values of traced arrays (in the gradient half, whose trace is discarded), and
        :meth:`Session.check_loss_first` says whether the loss was made before it did.

    Yields
    ------
    Session
        Its ``modules`` are those whose numpy was resolved (none without ``resolve``);
        the traced function calls its :meth:`Session.start` on its argument.
    """
    saved = {name: ArrayBox.__dict__.get(name) for name in ARRAY_METHODS}
    session = Session(tolerant=tolerant)

    def setitem(box: Any, index: Any, value: Any) -> None:  # a function: a slot binds no method
        session.setitem(box, index, value)

    def array(box: Any, *args: Any, **kwargs: Any) -> Any:
        return session.detach(box)

    init = ArrayBox.__init__

    def counted(box: Any, value: Any, trace_id: Any, node: Any) -> None:
        init(box, value, trace_id, node)
        session.made += 1
        session.order[id(node)] = session.made

    astype = ArrayBox.astype

    def narrowing(box: Any, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        kind = np.dtype(dtype)
        if kind.kind in "fc" and kind.itemsize < (8 if kind.kind == "f" else 16):
            session.low_precision = True
        return astype(box, dtype, *args, **kwargs)

    saved["astype"] = ArrayBox.__dict__.get("astype")
    replaced = {**ARRAY_METHODS, "__setitem__": setitem, "astype": narrowing}
    if tolerant:
        saved["__init__"] = ArrayBox.__dict__.get("__init__")
        replaced.update({"__array__": array, "__init__": counted})
    for name, method in replaced.items():
        setattr(ArrayBox, name, method)
    patches = Patches()
    try:
        if resolve:
            patches = resolve_numpy(root, TracedNumpy(session))
            session.modules = patches.modules
        yield session
    finally:
        patches.restore()
        for name, old in saved.items():
            if old is None:
                delattr(ArrayBox, name)
            else:
                setattr(ArrayBox, name, old)


# ---------------------------------------------------------------------------------------------
# why a trace failed, in the user's words


# ---------------------------------------------------------------------------------------------
# the forward's intermediate values, and the cost's gradient with respect to each
