# cython: language_level=3, boundscheck=False
"""Tables applied in native code, for the ingest hot path when this extension is built:

- `NativeTable`: the applier of a normaliser mapping table, run from `normalise.common.layout(table)`: the rows
  with each converter's declared fast path (`common.fast`); `common.TableApplier` is the same loop in Python,
  the fallback where this is not built;
- `NativeTsv`: the parser of one Zeek TSV `#fields`/`#types` header; `readers.TsvParser` is the fallback;
- `NativeIso`, `NativeSuricataTime`: timestamps, in front of their Python reference in `common`.

tests/ingest/test_native.py holds each to its fallback: the same output and the same errors.

NativeTable, per row: `v = data.get(src)`; skip None; if the converter declares a fast path for the exact type of
v, take it (KEEP: v itself, an int only within the row's range; a memo: a dict lookup, its function on a miss;
else the callable), otherwise call the converter (its ValueError, TypeError or OverflowError becomes
NormaliseError("field '<src>': <reason>")); skip a None result; create the intermediate objects of the target
path once per document and store the value. Nothing here knows a converter by name.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject, Py_TYPE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdlib cimport free, malloc

cdef enum:
    MAX_NODES = 64  # intermediate objects of one table's target paths (ours have at most 16)


cdef class NativeTable:
    cdef int n_rows
    cdef int n_nodes
    cdef int *row_node  # per row: the node (intermediate object) the value is stored in; 0 is the document
    cdef bint *ranged  # per row: ints are kept only within [lo, hi]
    cdef long long *lo
    cdef long long *hi
    cdef int *node_parent  # per node
    cdef tuple srcs  # per row: source field name
    cdef tuple leaves  # per row: last key of the target path
    cdef tuple converters  # per row: the Python converter (or None: the value is stored as it is)
    cdef tuple fast_types  # per row: the types the converter's fast path is declared for (a tuple, or None)
    cdef tuple fast_ways  # per row: for each of those types, KEEP, a memo or a callable
    cdef tuple node_keys  # per node: its key in its parent
    cdef tuple errors  # per row: the message prefix "field '<src>': "
    cdef object normalise_error
    cdef tuple caught
    cdef object keep
    cdef type memo

    def __cinit__(self):
        self.row_node = self.node_parent = NULL
        self.ranged = NULL
        self.lo = self.hi = NULL

    def __init__(self, rows, parents, keys, object normalise_error, tuple caught, object keep, type memo):
        """rows, parents, keys: `common.layout(table)`."""
        cdef int i
        if len(parents) > MAX_NODES:
            raise ValueError(f"a table with {len(parents)} intermediate objects (native limit {MAX_NODES})")
        self.n_rows = len(rows)
        self.n_nodes = len(parents)
        n = max(self.n_rows, 1)
        self.row_node = <int *> malloc(n * sizeof(int))
        self.ranged = <bint *> malloc(n * sizeof(bint))
        self.lo = <long long *> malloc(n * sizeof(long long))
        self.hi = <long long *> malloc(n * sizeof(long long))
        self.node_parent = <int *> malloc(self.n_nodes * sizeof(int))
        if (self.row_node == NULL or self.ranged == NULL or self.lo == NULL or self.hi == NULL
                or self.node_parent == NULL):
            raise MemoryError()
        for i in range(self.n_nodes):
            self.node_parent[i] = parents[i]
        for i, (src, node, leaf, convert, by_type, int_range, error) in enumerate(rows):
            self.row_node[i] = node
            self.ranged[i] = int_range is not None
            self.lo[i], self.hi[i] = int_range if int_range is not None else (0, 0)
        self.srcs = tuple(row[0] for row in rows)
        self.leaves = tuple(row[2] for row in rows)
        self.converters = tuple(row[3] for row in rows)
        # A type is matched by identity: the fast path is for exactly that type, and one or two types per row are
        # compared faster than a dict is looked up.
        self.fast_types = tuple(tuple(row[4]) or None for row in rows)
        self.fast_ways = tuple(tuple(row[4].values()) or None for row in rows)
        self.errors = tuple(row[6] for row in rows)
        self.node_keys = tuple(keys)
        self.normalise_error = normalise_error
        self.caught = caught
        self.keep = keep
        self.memo = memo

    def __dealloc__(self):
        free(self.row_node)
        free(self.ranged)
        free(self.lo)
        free(self.hi)
        free(self.node_parent)

    cdef object _convert(self, int i, object v):
        """The converter's fast path for the type of v, else the converter itself."""
        cdef object convert = self.converters[i]
        cdef tuple types = self.fast_types[i]
        cdef PyObject *hit
        cdef PyObject *t
        cdef object f = None
        cdef int overflow
        cdef Py_ssize_t j
        cdef long long n
        if convert is None:
            return v
        if types is not None:
            t = <PyObject *> Py_TYPE(v)
            for j in range(PyTuple_GET_SIZE(types)):
                if PyTuple_GET_ITEM(types, j) == t:
                    f = <object> PyTuple_GET_ITEM(<tuple> self.fast_ways[i], j)
                    break
            if f is not None:
                if f is self.keep:
                    if not self.ranged[i] or type(v) is not int:
                        return v
                    n = PyLong_AsLongLongAndOverflow(v, &overflow)
                    if overflow == 0 and self.lo[i] <= n <= self.hi[i]:
                        return v
                elif type(f) is self.memo:
                    hit = PyDict_GetItem(f, v)
                    if hit != NULL:
                        return <object> hit
                    return f[v]
                else:
                    return f(v)
        return convert(v)

    def __call__(self, dict doc, dict data):
        cdef PyObject *nodes[MAX_NODES]
        cdef PyObject *found
        cdef int i, node, walk, depth
        cdef int chain[MAX_NODES]
        cdef object v, child
        nodes[0] = <PyObject *> doc
        for i in range(1, self.n_nodes):
            nodes[i] = NULL
        for i in range(self.n_rows):
            found = PyDict_GetItem(data, self.srcs[i])
            if found == NULL or <object> found is None:
                continue
            try:
                v = self._convert(i, <object> found)
            except self.caught as exc:
                raise self.normalise_error(self.errors[i] + str(exc)) from None
            if v is None:
                continue
            node = self.row_node[i]
            if nodes[node] == NULL:
                # Walk up to the nearest object that exists, then create or look up the chain back down.
                depth = 0
                walk = node
                while nodes[walk] == NULL:
                    chain[depth] = walk
                    depth += 1
                    walk = self.node_parent[walk]
                while depth > 0:
                    depth -= 1
                    walk = chain[depth]
                    key = self.node_keys[walk]
                    found = PyDict_GetItem(<object> nodes[self.node_parent[walk]], key)
                    if found != NULL and type(<object> found) is not dict and <object> found is not None:
                        raise TypeError(f"cannot store below {key!r}: it holds a {type(<object> found).__name__}")
                    if found == NULL or <object> found is None:
                        child = {}
                        PyDict_SetItem(<object> nodes[self.node_parent[walk]], key, child)
                        # The parent now holds the new object: the borrowed pointer stays valid for this call.
                        nodes[walk] = <PyObject *> child
                    else:
                        nodes[walk] = found
            PyDict_SetItem(<object> nodes[node], self.leaves[i], v)


# How NativeTsv converts a value, from the element converter readers gives it: the builtins and readers' unescape
# inline, anything else through the field's Python converter.
cdef enum:
    T_CALL = 0
    T_AS_IS = 1  # str
    T_FLOAT = 2  # float
    T_INT = 3  # int
    T_STRING = 4  # readers._unescape: Zeek's backslash escape undone
    T_LIST = 8  # added to the kind of the elements: set[...], vector[...], table[...]


cdef inline object _scalar(int kind, str v, object unescape):
    if kind == T_FLOAT:
        return float(v)
    if kind == T_INT:
        return int(v)
    if kind == T_STRING and "\\" in v:  # rare: readers' unescape, the one definition of Zeek's escapes
        return unescape(v)
    return v


cdef class NativeTsv:
    """The parser of one Zeek `#fields`/`#types` header: split values -> record dict, as readers.TsvParser does
    with the fields' converters (float() and int() of the text, the string unescape, containers split on the set
    separator, the Python converter for the rest); it raises what those raise."""
    cdef int n
    cdef int *kinds
    cdef tuple names
    cdef tuple converters
    cdef str unset
    cdef str empty
    cdef str set_sep
    cdef object unescape

    def __cinit__(self):
        self.kinds = NULL

    def __init__(self, fields, elements, converters, str unset, str empty, str set_sep, unescape):
        """elements: per field, (element converter, container?) as readers.tsv_element gives them."""
        cdef int i, kind
        self.n = len(fields)
        self.kinds = <int *> malloc(max(self.n, 1) * sizeof(int))
        if self.kinds == NULL:
            raise MemoryError()
        for i in range(self.n):
            scalar, container = elements[i]
            kind = (T_AS_IS if scalar is str else T_FLOAT if scalar is float else T_INT if scalar is int
                    else T_STRING if scalar is unescape else T_CALL)
            self.kinds[i] = kind + T_LIST if container and kind != T_CALL else kind
        self.names = tuple(fields)
        self.converters = tuple(converters)
        self.unset, self.empty, self.set_sep = unset, empty, set_sep
        self.unescape = unescape

    def __dealloc__(self):
        free(self.kinds)

    def __call__(self, list values):
        cdef dict data = {}
        cdef int i, kind
        cdef str v
        cdef object value
        if len(values) < self.n:
            raise ValueError(f"expected {self.n} values, got {len(values)}")
        for i in range(self.n):
            v = values[i]
            if v == self.unset:
                continue
            kind = self.kinds[i]
            if kind == T_CALL:
                value = self.converters[i](v)
            elif kind >= T_LIST:
                if v == self.empty:
                    value = []
                else:
                    value = [_scalar(kind - T_LIST, x, self.unescape) for x in v.split(self.set_sep)]
            else:
                value = _scalar(kind, v, self.unescape)
            PyDict_SetItem(data, self.names[i], value)
        return data


cdef extern from "math.h":
    double floor(double x)
    double nearbyint(double x)  # rounds half to even in the default rounding mode, as Python's round()


cdef class NativeIso:
    """Epoch seconds -> `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as `common.epoch_to_iso_python` (the reference, which it
    asks for the date and time of each new second and for anything but a finite float in range)."""
    cdef long long last_sec
    cdef str last_text
    cdef object reference

    def __init__(self, reference):
        self.reference = reference
        self.last_text = None

    def __call__(self, ts):
        cdef double t
        cdef long long sec, micro
        if type(ts) is not float:
            return self.reference(ts)
        t = ts
        if not (0.0 <= t < 1e10):  # before 1970, after 2286, NaN: the reference decides (and says what is wrong)
            return self.reference(ts)
        sec = <long long> floor(t)
        micro = <long long> nearbyint((t - <double> sec) * 1e6)
        if micro >= 1000000:
            sec += 1
            micro -= 1000000
        if self.last_text is None or sec != self.last_sec:
            self.last_text = self.reference(<double> sec)[:19]
            self.last_sec = sec
        return f"{self.last_text}.{micro:06d}Z"


cdef inline bint _digits(str text, Py_ssize_t start, Py_ssize_t stop):
    cdef Py_ssize_t i
    cdef Py_UCS4 ch
    for i in range(start, stop):
        ch = text[i]
        if ch < u'0' or ch > u'9':
            return False
    return True


cdef class NativeSuricataTime:
    """Suricata's `2026-11-23T16:39:37.809609+0000` -> (`2026-11-23T16:39:37.809609Z`, epoch seconds), as
    `common._fast_suricata_time_python`, which it leaves every other shape to. The seconds are the exact integer
    of microseconds divided by 1e6: one correctly rounded division, the same double as float("37.809609")."""
    cdef str last_head
    cdef double last_base
    cdef object reference
    cdef object minute_base

    def __init__(self, reference, minute_base):
        self.reference = reference
        self.minute_base = minute_base  # "YYYY-MM-DDTHH:MM:" -> epoch of that minute, or None
        self.last_head = None

    def __call__(self, text):
        cdef str t
        cdef long long micros
        cdef double second
        cdef Py_ssize_t i
        if type(text) is not str or len(<str> text) != 31:
            return self.reference(text)
        t = <str> text
        if not (t[4] == u'-' and t[7] == u'-' and t[10] == u'T' and t[13] == u':' and t[16] == u':'
                and t[19] == u'.' and t[26] == u'+' and _digits(t, 0, 4) and _digits(t, 5, 7)
                and _digits(t, 8, 10) and _digits(t, 11, 13) and _digits(t, 14, 16) and _digits(t, 17, 19)
                and _digits(t, 20, 26) and _digits(t, 27, 31) and t.endswith("+0000")):
            return self.reference(text)
        head = t[:17]
        if self.last_head is None or head != self.last_head:
            base = self.minute_base(head)
            if base is None:
                return None
            self.last_head, self.last_base = head, base
        micros = 0
        for i in range(17, 26):
            if i != 19:
                micros = micros * 10 + (<long long> t[i] - 48)
        second = <double> micros / 1e6
        if second >= 60:
            return None
        return t[:26] + "Z", self.last_base + second
