# cython: language_level=3, boundscheck=False
"""Tables applied in native code, for the ingest hot path when this extension is built:

- `NativeTable`: the compiled form of a normaliser mapping table (`normalise.common.Table`); the pure-Python
  generator `common.compile_table_python` is the reference and the fallback;
- `NativeTsv`: the parser of one Zeek TSV `#fields`/`#types` header; `readers.compile_tsv_python` is the
  reference and the fallback.

tests/ingest/test_native.py holds each to its reference: the same output and the same errors.

NativeTable, per row, does what the generated Python does: `v = data.get(src)`; skip None; take the converter's
inline fast path when the value already has the right type, else call the converter (its ValueError, TypeError
or OverflowError becomes NormaliseError("field '<src>': <reason>")); skip a None result; create the intermediate
objects of the target path once per document and store the value.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from libc.stdlib cimport free, malloc

# Converter kinds with an inline fast path (numbers agree with common._NATIVE_KINDS).
cdef enum:
    K_CALL = 0
    K_STR = 1
    K_INT = 2
    K_PORT = 3
    K_FLOAT = 4
    K_IP = 5
    K_BOOL = 6
    K_LOWER = 7
    K_ID = 8
    K_URL = 9
    K_STR_LIST = 10
    K_FIRST_STR = 11

cdef enum:
    MAX_NODES = 64  # intermediate objects of one table's target paths (ours have at most 16)


cdef class NativeTable:
    cdef int n_rows
    cdef int n_nodes
    cdef int *kinds  # per row
    cdef int *row_node  # per row: the node (intermediate object) the value is stored in; 0 is the document
    cdef int *node_parent  # per node
    cdef tuple srcs  # per row: source field name
    cdef tuple leaves  # per row: last key of the target path
    cdef tuple converters  # per row: the Python converter (or None)
    cdef tuple node_keys  # per node: its key in its parent
    cdef tuple errors  # per row: the message prefix "field '<src>': "
    cdef object normalise_error
    cdef tuple caught
    cdef dict ip_cache
    cdef dict url_cache
    cdef object as_str

    def __cinit__(self):
        self.kinds = self.row_node = self.node_parent = NULL

    def __init__(self, rows, object normalise_error, tuple caught, dict ip_cache, dict url_cache, object as_str):
        """rows: (source field, target path, converter, kind) per table row."""
        cdef int i
        nodes = {(): 0}
        parents = [0]
        keys = [None]
        for _, path, _, _ in rows:
            for depth in range(1, len(path)):
                prefix = tuple(path[:depth])
                if prefix not in nodes:
                    nodes[prefix] = len(parents)
                    parents.append(nodes[prefix[:-1]])
                    keys.append(prefix[-1])
        if len(parents) > MAX_NODES:
            raise ValueError(f"a table with {len(parents)} intermediate objects (native limit {MAX_NODES})")
        self.n_rows = len(rows)
        self.n_nodes = len(parents)
        self.kinds = <int *> malloc(max(self.n_rows, 1) * sizeof(int))
        self.row_node = <int *> malloc(max(self.n_rows, 1) * sizeof(int))
        self.node_parent = <int *> malloc(self.n_nodes * sizeof(int))
        if self.kinds == NULL or self.row_node == NULL or self.node_parent == NULL:
            raise MemoryError()
        for i in range(self.n_nodes):
            self.node_parent[i] = parents[i]
        for i, (src, path, convert, kind) in enumerate(rows):
            self.kinds[i] = kind if convert is not None else -1  # -1: no converter, the value is stored as it is
            self.row_node[i] = nodes[tuple(path[:-1])]
        self.srcs = tuple(src for src, _, _, _ in rows)
        self.leaves = tuple(path[-1] for _, path, _, _ in rows)
        self.converters = tuple(convert for _, _, convert, _ in rows)
        self.errors = tuple(f"field {src!r}: " for src, _, _, _ in rows)
        self.node_keys = tuple(keys)
        self.normalise_error = normalise_error
        self.caught = caught
        self.ip_cache = ip_cache
        self.url_cache = url_cache
        self.as_str = as_str

    def __dealloc__(self):
        free(self.kinds)
        free(self.row_node)
        free(self.node_parent)

    cdef object _convert(self, int i, object v):
        """The inline fast paths of common.compile_table_python, then the converter itself."""
        cdef int kind = self.kinds[i]
        cdef int overflow
        cdef long long n
        cdef PyObject *hit
        if kind == -1:
            return v
        if kind == K_STR:
            if type(v) is str:
                return v
        elif kind == K_INT or kind == K_PORT:
            if type(v) is int:
                n = PyLong_AsLongLongAndOverflow(v, &overflow)
                if overflow == 0 and (kind == K_INT or 0 <= n <= 65535):
                    return v
        elif kind == K_FLOAT:
            if type(v) is float:
                return v
        elif kind == K_IP or kind == K_URL:  # the converters' own caches of checked addresses, redacted URLs
            if type(v) is str:
                hit = PyDict_GetItem(self.ip_cache if kind == K_IP else self.url_cache, v)
                if hit != NULL:
                    return <object> hit
        elif kind == K_BOOL:
            if type(v) is bool:
                return v
        elif kind == K_LOWER:
            if type(v) is str:
                return v.lower()
        elif kind == K_ID:
            if type(v) is str:
                return v
            if type(v) is int:
                return str(v)
        elif kind == K_STR_LIST:
            if type(v) is list:
                return [x if type(x) is str else self.as_str(x) for x in <list> v]
        elif kind == K_FIRST_STR:
            if type(v) is str:
                return v
            if type(v) is list and all(type(x) is str for x in <list> v):
                return (<list> v)[0] if v else None
        return self.converters[i](v)

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


# Zeek TSV value kinds, as readers.tsv_kind numbers them from readers._SCALAR.
cdef enum:
    T_CALL = 0
    T_AS_IS = 1
    T_FLOAT = 2
    T_INT = 3
    T_STRING = 4  # Zeek's backslash escape undone
    T_LIST = 8  # added to the kind of the elements: set[...], vector[...], table[...]


cdef inline object _scalar(int kind, str v):
    if kind == T_FLOAT:
        return float(v)
    if kind == T_INT:
        return int(v)
    if kind == T_STRING and "\\\\" in v:
        return v.replace("\\\\", "\\")
    return v


cdef class NativeTsv:
    """The parser of one Zeek `#fields`/`#types` header: split values -> record dict, as readers.compile_tsv_python
    does (float() and int() of the text, the string unescape, containers split on the set separator, the Python
    converter for the rest); it raises what those raise."""
    cdef int n
    cdef int *kinds
    cdef tuple names
    cdef tuple converters
    cdef str unset
    cdef str empty
    cdef str set_sep

    def __cinit__(self):
        self.kinds = NULL

    def __init__(self, fields, kinds, converters, str unset, str empty, str set_sep):
        cdef int i
        self.n = len(fields)
        self.kinds = <int *> malloc(max(self.n, 1) * sizeof(int))
        if self.kinds == NULL:
            raise MemoryError()
        for i in range(self.n):
            self.kinds[i] = kinds[i]
        self.names = tuple(fields)
        self.converters = tuple(converters)
        self.unset, self.empty, self.set_sep = unset, empty, set_sep

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
                    value = [_scalar(kind - T_LIST, x) for x in v.split(self.set_sep)]
            else:
                value = _scalar(kind, v)
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
