/* pickle.c - the pickle-based checkpoint formats, read without executing anything.
 *
 * A pickle is a program for a stack machine. This reader runs the opcodes
 * PyTorch's picklers emit (protocol 2, plus the few protocol 3-5 forms that
 * cost nothing: bytes, STACK_GLOBAL, MEMOIZE, FRAME) over inert values: None,
 * bool, int64, float, str, bytes, tuple, list, dict, and three kinds of its own:
 * a storage (a persistent id), a tensor (a rebuild call) and a TorchScript
 * object (a __torch__.* class built by NEWOBJ + BUILD). GLOBAL may only name:
 *   collections.OrderedDict                          -> an empty dict
 *   torch._utils._rebuild_tensor_v2 / _rebuild_tensor -> a tensor
 *   torch._utils._rebuild_parameter[_with_state]     -> its tensor argument
 *   torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage
 *   torch.jit._pickle.build_{int,float,bool,tensor,double}list, restore_type_tag
 *   __torch__.* classes (TorchScript module objects: only their attribute dict
 *   is kept)
 * Anything else (os.system, builtins.eval, ...) stops the read, naming the
 * global. Stack, marks, memo, objects, container items, tensors, nesting depth
 * and the work of naming tensors are bounded (ckpt/internal.h); every integer
 * read from the file is range-checked before it is used as a size or index.
 *
 * Formats (doc/checkpoints.md):
 *   PyTorch zip / TorchScript: <prefix>/data.pkl (one pickle), storages in
 *     <prefix>/data/<key> (raw little-endian). Persistent id
 *     ('storage', torch.<T>Storage, key, location, numel). TorchScript is told
 *     apart by its root object being a __torch__ class. <prefix>/byteorder, when
 *     present, must say "little".
 *   Legacy (torch.save(..., _use_new_zipfile_serialization=False)), five
 *     pickles back to back, then the storages:
 *       1 magic 0x1950a86a20f9469cfc6c (LONG1)   2 protocol version 1001
 *       3 sys info dict (little_endian must be True)
 *       4 the object; persistent id ('storage', torch.<T>Storage, root key,
 *         location, numel, view) with view None or (view key, offset, numel)
 *       5 list of storage keys, in the order their data follows
 *     then per key: i64 LE element count, count * itemsize bytes.
 * Tensors are named by joining dict keys and TorchScript attribute names with
 * '.' (list and tuple items by index), which gives state-dict keys.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/internal.h"

typedef enum {
	PV_NONE,
	PV_BOOL,
	PV_INT,
	PV_FLOAT,
	PV_STR,
	PV_BYTES,
	PV_TUPLE,
	PV_LIST,
	PV_DICT,
	PV_GLOBAL,
	PV_STORAGE,
	PV_TENSOR,
	PV_OBJECT
} pv_kind_t;

typedef enum {
	G_ORDERED_DICT,
	G_REBUILD_TENSOR_V2,
	G_REBUILD_TENSOR,
	G_REBUILD_PARAMETER,
	G_REBUILD_PARAMETER_STATE,
	G_BUILD_LIST,
	G_RESTORE_TYPE_TAG,
	G_STORAGE_TYPE,
	G_TORCH_CLASS
} global_t;

/* One value. Strings point into the pickle bytes; containers own item arrays
 * of value handles (dicts: key, value pairs). */
typedef struct {
	uint8_t kind;   /* pv_kind_t */
	uint8_t global; /* PV_GLOBAL: global_t */
	uint8_t dtype;  /* PV_GLOBAL storage type */
	uint32_t n;     /* string bytes, container items */
	uint32_t cap;
	uint32_t state; /* PV_OBJECT: handle of its BUILD state (or the None handle) */
	union {
		int64_t i;
		double f;
		const char *s;   /* PV_STR, PV_BYTES, PV_GLOBAL/PV_OBJECT: class name */
		uint32_t *items; /* PV_TUPLE, PV_LIST, PV_DICT */
		uint32_t idx;    /* PV_STORAGE, PV_TENSOR: index into vm storages/tensors */
	} u;
} pv_t;

typedef struct {
	dtype_t dtype;
	const char *key;
	size_t key_len;
	int64_t numel;     /* elements the storage (or its view) holds */
	int64_t root_numel;
	int64_t view_off;  /* legacy storage view: element offset into the root */
	const uint8_t *data; /* resolved bytes of the root storage, NULL until then */
} pk_storage_t;

typedef struct {
	uint32_t storage;
	int64_t offset;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	int64_t stride[TENSOR_MAX_DIMS];
	const void *data; /* contiguous view once made (shared by every name) */
	size_t nbytes;
} pk_tensor_t;

typedef struct {
	pv_t *obj;
	size_t nobj, capobj;
	uint32_t *stack;
	size_t sp, capstack;
	size_t *marks;
	size_t nmarks, capmarks;
	uint32_t *memo;
	size_t capmemo;
	size_t nmemo; /* entries stored in this pickle: MEMOIZE's next index */
	pk_storage_t *st;
	size_t nst, capst;
	pk_tensor_t *tn;
	size_t ntn, captn;
	size_t slots;
	uint32_t h_none, h_true, h_false;
	int python_strs; /* read as Python's unpickler (torch.load) reads: strs must be UTF-8 */
	/* current pickle, for messages */
	const char *what;
	size_t pos;
	char *err;
	size_t cap;
} vm_t;

#define NO_HANDLE UINT32_MAX

/* "what offset N: msg" into vm->err; returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int vm_fail(vm_t *vm, const char *fmt, ...);

static int vm_fail(vm_t *vm, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(vm->err, vm->cap, "%s offset %zu: %s", vm->what, vm->pos, msg);
	return -1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	void *np = realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static uint32_t vm_new(vm_t *vm, pv_kind_t kind)
{
	if (vm->nobj >= CKPT_MAX_PICKLE_OBJECTS) {
		vm_fail(vm, "more than %d pickle objects", CKPT_MAX_PICKLE_OBJECTS);
		return NO_HANDLE;
	}
	if (grow((void **)&vm->obj, &vm->capobj, vm->nobj + 1, sizeof *vm->obj) != 0) {
		vm_fail(vm, "out of memory");
		return NO_HANDLE;
	}
	pv_t *o = &vm->obj[vm->nobj];
	memset(o, 0, sizeof *o);
	o->kind = (uint8_t)kind;
	o->state = vm->h_none;
	return (uint32_t)vm->nobj++;
}

static void vm_free(vm_t *vm)
{
	for (size_t i = 0; i < vm->nobj; i++) {
		pv_kind_t k = vm->obj[i].kind;
		if (k == PV_TUPLE || k == PV_LIST || k == PV_DICT)
			free(vm->obj[i].u.items);
	}
	free(vm->obj);
	free(vm->stack);
	free(vm->marks);
	free(vm->memo);
	free(vm->st);
	free(vm->tn);
}

/* Does Python's unpickler decode s[0..n) as a str: UTF-8, with
 * 'surrogatepass' (encoded U+D800..U+DFFF allowed) for the unicode opcodes,
 * strictly for BINSTRING's (torch.load's encoding='utf-8')? */
static int python_utf8(const uint8_t *s, size_t n, int surrogatepass)
{
	uint32_t cp;
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_next((const char *)s + i, n - i, &cp);
		if (!k && surrogatepass && n - i >= 3 && s[i] == 0xED && s[i + 1] >= 0xA0 && s[i + 1] <= 0xBF &&
		    (s[i + 2] & 0xC0) == 0x80)
			k = 3;
		if (!k)
			return 0;
	}
	return 1;
}

/* Is "/code/" in a zip entry's name (a TorchScript archive's code)? */
static int has_code_dir(const char *s, size_t n)
{
	for (size_t i = 0; i + 6 <= n; i++)
		if (memcmp(s + i, "/code/", 6) == 0)
			return 1;
	return 0;
}

static int vm_init(vm_t *vm, char *err, size_t cap)
{
	memset(vm, 0, sizeof *vm);
	vm->err = err;
	vm->cap = cap;
	vm->what = "pickle";
	vm->h_none = 0; /* vm_new reads h_none for the state field */
	if (vm_new(vm, PV_NONE) == NO_HANDLE)
		return -1;
	vm->h_true = vm_new(vm, PV_BOOL);
	vm->h_false = vm_new(vm, PV_BOOL);
	if (vm->h_true == NO_HANDLE || vm->h_false == NO_HANDLE)
		return -1;
	vm->obj[vm->h_true].u.i = 1;
	return 0;
}

static int push(vm_t *vm, uint32_t h)
{
	if (h == NO_HANDLE)
		return -1;
	if (vm->sp >= CKPT_MAX_PICKLE_STACK)
		return vm_fail(vm, "stack deeper than %d", CKPT_MAX_PICKLE_STACK);
	if (grow((void **)&vm->stack, &vm->capstack, vm->sp + 1, sizeof *vm->stack) != 0)
		return vm_fail(vm, "out of memory");
	vm->stack[vm->sp++] = h;
	return 0;
}

static size_t stack_floor(const vm_t *vm)
{
	return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
}

static int pop(vm_t *vm, uint32_t *h)
{
	if (vm->sp <= stack_floor(vm))
		return vm_fail(vm, "stack underflow");
	*h = vm->stack[--vm->sp];
	return 0;
}

static int top(vm_t *vm, uint32_t *h)
{
	if (vm->sp <= stack_floor(vm))
		return vm_fail(vm, "stack underflow");
	*h = vm->stack[vm->sp - 1];
	return 0;
}

/* Items above the topmost mark: *first is their stack index; the mark is removed. */
static int pop_mark(vm_t *vm, size_t *first)
{
	if (vm->nmarks == 0)
		return vm_fail(vm, "no MARK on the stack");
	*first = vm->marks[--vm->nmarks];
	return 0;
}

/* A container of the given kind holding stack[first..sp) (moved off the stack). */
static uint32_t make_container(vm_t *vm, pv_kind_t kind, size_t first)
{
	size_t n = vm->sp - first;
	if (vm->slots + n > CKPT_MAX_PICKLE_SLOTS) {
		vm_fail(vm, "more than %d container items", CKPT_MAX_PICKLE_SLOTS);
		return NO_HANDLE;
	}
	uint32_t h = vm_new(vm, kind);
	if (h == NO_HANDLE)
		return NO_HANDLE;
	if (n) {
		uint32_t *items = malloc(n * sizeof *items);
		if (!items) {
			vm_fail(vm, "out of memory");
			return NO_HANDLE;
		}
		memcpy(items, vm->stack + first, n * sizeof *items);
		vm->obj[h].u.items = items;
		vm->obj[h].n = vm->obj[h].cap = (uint32_t)n;
	}
	vm->slots += n;
	vm->sp = first;
	return h;
}

/* Append stack[first..sp) to list or dict h (dict: pairs), popping them. */
static int extend(vm_t *vm, uint32_t h, size_t first, pv_kind_t want)
{
	pv_t *o = &vm->obj[h];
	size_t n = vm->sp - first;
	if (o->kind != want)
		return vm_fail(vm, "%s to something that is not a %s", want == PV_LIST ? "APPEND" : "SETITEM",
			       want == PV_LIST ? "list" : "dict");
	if (want == PV_DICT && n % 2)
		return vm_fail(vm, "SETITEMS with an odd number of items");
	if (n == 0)
		return 0;
	if (vm->slots + n > CKPT_MAX_PICKLE_SLOTS)
		return vm_fail(vm, "more than %d container items", CKPT_MAX_PICKLE_SLOTS);
	size_t cap = o->cap;
	if (grow((void **)&o->u.items, &cap, (size_t)o->n + n, sizeof *o->u.items) != 0)
		return vm_fail(vm, "out of memory");
	o->cap = (uint32_t)cap;
	memcpy(o->u.items + o->n, vm->stack + first, n * sizeof *o->u.items);
	o->n += (uint32_t)n;
	vm->slots += n;
	vm->sp = first;
	return 0;
}

static uint32_t new_int(vm_t *vm, int64_t v)
{
	uint32_t h = vm_new(vm, PV_INT);
	if (h != NO_HANDLE)
		vm->obj[h].u.i = v;
	return h;
}

static uint32_t new_str(vm_t *vm, pv_kind_t kind, const uint8_t *s, uint64_t n)
{
	if (n > INT32_MAX) {
		vm_fail(vm, "string of %llu bytes", (unsigned long long)n);
		return NO_HANDLE;
	}
	uint32_t h = vm_new(vm, kind);
	if (h != NO_HANDLE) {
		vm->obj[h].u.s = (const char *)s;
		vm->obj[h].n = (uint32_t)n;
	}
	return h;
}

static int memo_put(vm_t *vm, uint64_t idx, uint32_t h, size_t pickle_len)
{
	if (idx >= CKPT_MAX_PICKLE_MEMO || idx > pickle_len)
		return vm_fail(vm, "memo index %llu out of range", (unsigned long long)idx);
	if (idx >= vm->capmemo) {
		size_t old = vm->capmemo;
		if (grow((void **)&vm->memo, &vm->capmemo, (size_t)idx + 1, sizeof *vm->memo) != 0)
			return vm_fail(vm, "out of memory");
		for (size_t i = old; i < vm->capmemo; i++)
			vm->memo[i] = NO_HANDLE;
	}
	if (vm->memo[idx] == NO_HANDLE)
		vm->nmemo++;
	vm->memo[idx] = h;
	return 0;
}

static int memo_get(vm_t *vm, uint64_t idx)
{
	if (idx >= vm->capmemo || vm->memo[idx] == NO_HANDLE)
		return vm_fail(vm, "memo index %llu was never stored", (unsigned long long)idx);
	return push(vm, vm->memo[idx]);
}

static int str_is(const pv_t *o, const char *s)
{
	size_t n = strlen(s);
	return o->kind == PV_STR && o->n == n && memcmp(o->u.s, s, n) == 0;
}

/* ---- globals ---- */

static const struct {
	const char *name;
	dtype_t dtype;
} storage_types[] = {
	{"FloatStorage", DTYPE_FLOAT32}, {"HalfStorage", DTYPE_FLOAT16},  {"BFloat16Storage", DTYPE_BFLOAT16},
	{"DoubleStorage", DTYPE_FLOAT64}, {"LongStorage", DTYPE_INT64},   {"IntStorage", DTYPE_INT32},
	{"ShortStorage", DTYPE_INT16},    {"CharStorage", DTYPE_INT8},    {"ByteStorage", DTYPE_UINT8},
	{"BoolStorage", DTYPE_BOOL},
};

static int eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Resolve module.name to an allowed global, pushing it; refuse the rest. */
static int push_global(vm_t *vm, const char *mod, size_t ml, const char *name, size_t nl)
{
	int g = -1;
	dtype_t dt = DTYPE_FLOAT32;
	if (eq(mod, ml, "collections") && eq(name, nl, "OrderedDict"))
		g = G_ORDERED_DICT;
	else if (eq(mod, ml, "torch._utils")) {
		if (eq(name, nl, "_rebuild_tensor_v2"))
			g = G_REBUILD_TENSOR_V2;
		else if (eq(name, nl, "_rebuild_tensor"))
			g = G_REBUILD_TENSOR;
		else if (eq(name, nl, "_rebuild_parameter"))
			g = G_REBUILD_PARAMETER;
		else if (eq(name, nl, "_rebuild_parameter_with_state"))
			g = G_REBUILD_PARAMETER_STATE;
	} else if (eq(mod, ml, "torch")) {
		for (size_t i = 0; i < sizeof storage_types / sizeof *storage_types; i++)
			if (eq(name, nl, storage_types[i].name))
				g = G_STORAGE_TYPE, dt = storage_types[i].dtype;
		if (g < 0 && nl > 7 && memcmp(name + nl - 7, "Storage", 7) == 0) {
			char nm[128];
			ckpt_printable(nm, sizeof nm, name, nl);
			return vm_fail(vm, "storage type torch.%s is not supported", nm);
		}
	} else if (eq(mod, ml, "torch.jit._pickle")) {
		if (eq(name, nl, "build_intlist") || eq(name, nl, "build_floatlist") || eq(name, nl, "build_boollist") ||
		    eq(name, nl, "build_tensorlist") || eq(name, nl, "build_doublelist"))
			g = G_BUILD_LIST;
		else if (eq(name, nl, "restore_type_tag"))
			g = G_RESTORE_TYPE_TAG;
	} else if ((ml == 9 || (ml > 9 && mod[9] == '.')) && memcmp(mod, "__torch__", 9) == 0) {
		g = G_TORCH_CLASS;
	}
	if (g < 0) {
		char m[128], nm[128];
		ckpt_printable(m, sizeof m, mod, ml);
		ckpt_printable(nm, sizeof nm, name, nl);
		return vm_fail(vm, "forbidden global '%s.%s': only PyTorch tensor-rebuilding globals are accepted", m,
			       nm);
	}
	uint32_t h = vm_new(vm, PV_GLOBAL);
	if (h == NO_HANDLE)
		return -1;
	vm->obj[h].global = (uint8_t)g;
	vm->obj[h].dtype = (uint8_t)dt;
	vm->obj[h].u.s = mod;
	vm->obj[h].n = (uint32_t)ml;
	return push(vm, h);
}

/* ---- persistent ids and tensors ---- */

static int get_int(vm_t *vm, uint32_t h, int64_t *v, const char *what)
{
	const pv_t *o = &vm->obj[h];
	if (o->kind == PV_INT || o->kind == PV_BOOL) {
		*v = o->u.i;
		return 0;
	}
	return vm_fail(vm, "%s is not an integer", what);
}

static int persistent_load(vm_t *vm, uint32_t pid)
{
	const pv_t *t = &vm->obj[pid];
	if (t->kind != PV_TUPLE || t->n < 1)
		return vm_fail(vm, "persistent id is not a tuple");
	const uint32_t *it = t->u.items;
	if (!str_is(&vm->obj[it[0]], "storage")) {
		const pv_t *k = &vm->obj[it[0]];
		char nm[64] = "?";
		if (k->kind == PV_STR)
			ckpt_printable(nm, sizeof nm, k->u.s, k->n);
		return vm_fail(vm, "persistent id of kind '%s' (only 'storage' is read; save a state_dict)", nm);
	}
	if (t->n != 5 && t->n != 6)
		return vm_fail(vm, "storage persistent id with %u fields (expected 5 or 6)", t->n);
	const pv_t *ty = &vm->obj[it[1]], *key = &vm->obj[it[2]];
	if (ty->kind != PV_GLOBAL || ty->global != G_STORAGE_TYPE)
		return vm_fail(vm, "storage persistent id without a torch.<Type>Storage");
	if (key->kind != PV_STR)
		return vm_fail(vm, "storage key is not a string");
	int64_t numel;
	if (get_int(vm, it[4], &numel, "storage size") != 0)
		return -1;
	if (numel < 0 || tensor_shape_numel(&numel, 1, dtype_size((dtype_t)ty->dtype)) < 0)
		return vm_fail(vm, "storage size %lld out of range", (long long)numel);
	if (vm->nst >= CKPT_MAX_TENSORS)
		return vm_fail(vm, "more than %d storages", CKPT_MAX_TENSORS);
	if (grow((void **)&vm->st, &vm->capst, vm->nst + 1, sizeof *vm->st) != 0)
		return vm_fail(vm, "out of memory");
	pk_storage_t *s = &vm->st[vm->nst];
	memset(s, 0, sizeof *s);
	s->dtype = (dtype_t)ty->dtype;
	s->key = key->u.s;
	s->key_len = key->n;
	s->numel = s->root_numel = numel;
	if (t->n == 6 && vm->obj[it[5]].kind != PV_NONE) {
		const pv_t *v = &vm->obj[it[5]];
		int64_t off = 0, cnt = 0;
		if (v->kind != PV_TUPLE || v->n != 3)
			return vm_fail(vm, "storage view is not a (key, offset, size) tuple");
		if (get_int(vm, v->u.items[1], &off, "storage view offset") != 0 ||
		    get_int(vm, v->u.items[2], &cnt, "storage view size") != 0)
			return -1;
		if (off < 0 || cnt < 0 || off > numel || cnt > numel - off)
			return vm_fail(vm, "storage view [%lld, +%lld) outside its %lld-element storage", (long long)off,
				       (long long)cnt, (long long)numel);
		s->view_off = off;
		s->numel = cnt;
	}
	uint32_t h = vm_new(vm, PV_STORAGE);
	if (h == NO_HANDLE)
		return -1;
	vm->obj[h].u.idx = (uint32_t)vm->nst++;
	return push(vm, h);
}

static int int_list(vm_t *vm, uint32_t h, int64_t *out, int *n, const char *what)
{
	const pv_t *o = &vm->obj[h];
	if (o->kind != PV_TUPLE && o->kind != PV_LIST)
		return vm_fail(vm, "tensor %s is not a tuple", what);
	if (o->n > TENSOR_MAX_DIMS)
		return vm_fail(vm, "tensor with %u dimensions (at most %d)", o->n, TENSOR_MAX_DIMS);
	for (uint32_t i = 0; i < o->n; i++)
		if (get_int(vm, o->u.items[i], &out[i], what) != 0)
			return -1;
	*n = (int)o->n;
	return 0;
}

/* _rebuild_tensor[_v2](storage, storage_offset, size, stride, ...) */
static int rebuild_tensor(vm_t *vm, const uint32_t *a)
{
	const pv_t *so = &vm->obj[a[0]];
	if (so->kind != PV_STORAGE)
		return vm_fail(vm, "tensor rebuilt from something that is not a storage");
	pk_tensor_t t;
	memset(&t, 0, sizeof t);
	t.storage = so->u.idx;
	const pk_storage_t *s = &vm->st[t.storage];
	int ns = 0;
	if (get_int(vm, a[1], &t.offset, "storage offset") != 0 || int_list(vm, a[2], t.shape, &t.ndim, "size") != 0 ||
	    int_list(vm, a[3], t.stride, &ns, "stride") != 0)
		return -1;
	if (ns != t.ndim)
		return vm_fail(vm, "tensor has %d sizes but %d strides", t.ndim, ns);
	size_t isz = dtype_size(s->dtype);
	int64_t numel = tensor_shape_numel(t.shape, t.ndim, isz);
	if (numel < 0)
		return vm_fail(vm, "tensor shape negative or too large");
	if (t.offset < 0 || t.offset > s->numel)
		return vm_fail(vm, "storage offset %lld outside a %lld-element storage", (long long)t.offset,
			       (long long)s->numel);
	if (numel > 0) {
		/* last element: offset + sum (size-1)*stride, each step checked */
		int64_t last = t.offset;
		for (int d = 0; d < t.ndim; d++) {
			int64_t step;
			if (t.stride[d] < 0)
				return vm_fail(vm, "negative stride %lld", (long long)t.stride[d]);
			if (__builtin_mul_overflow(t.shape[d] - 1, t.stride[d], &step) ||
			    __builtin_add_overflow(last, step, &last))
				return vm_fail(vm, "tensor extent overflows");
		}
		if (last >= s->numel)
			return vm_fail(vm, "tensor reaches element %lld of a %lld-element storage", (long long)last,
				       (long long)s->numel);
	}
	if (vm->ntn >= CKPT_MAX_TENSORS)
		return vm_fail(vm, "more than %d tensors", CKPT_MAX_TENSORS);
	if (grow((void **)&vm->tn, &vm->captn, vm->ntn + 1, sizeof *vm->tn) != 0)
		return vm_fail(vm, "out of memory");
	vm->tn[vm->ntn] = t;
	uint32_t h = vm_new(vm, PV_TENSOR);
	if (h == NO_HANDLE)
		return -1;
	vm->obj[h].u.idx = (uint32_t)vm->ntn++;
	return push(vm, h);
}

static int reduce(vm_t *vm)
{
	uint32_t args, fn;
	if (pop(vm, &args) != 0 || pop(vm, &fn) != 0)
		return -1;
	const pv_t *f = &vm->obj[fn], *a = &vm->obj[args];
	if (f->kind != PV_GLOBAL)
		return vm_fail(vm, "REDUCE of something that is not a global");
	if (a->kind != PV_TUPLE)
		return vm_fail(vm, "REDUCE arguments are not a tuple");
	const uint32_t *it = a->u.items;
	switch ((global_t)f->global) {
	case G_ORDERED_DICT:
		if (a->n != 0)
			return vm_fail(vm, "OrderedDict called with arguments");
		return push(vm, vm_new(vm, PV_DICT));
	case G_REBUILD_TENSOR_V2:
		if (a->n != 6 && a->n != 7)
			return vm_fail(vm, "_rebuild_tensor_v2 with %u arguments", a->n);
		return rebuild_tensor(vm, it);
	case G_REBUILD_TENSOR:
		if (a->n != 4)
			return vm_fail(vm, "_rebuild_tensor with %u arguments", a->n);
		return rebuild_tensor(vm, it);
	case G_REBUILD_PARAMETER:
	case G_REBUILD_PARAMETER_STATE:
		if (a->n != (f->global == G_REBUILD_PARAMETER ? 3u : 4u) || vm->obj[it[0]].kind != PV_TENSOR)
			return vm_fail(vm, "_rebuild_parameter without a tensor");
		return push(vm, it[0]);
	case G_BUILD_LIST:
		if (a->n != 1 || vm->obj[it[0]].kind != PV_LIST)
			return vm_fail(vm, "torch.jit._pickle.build_*list without a list");
		return push(vm, it[0]);
	case G_RESTORE_TYPE_TAG:
		if (a->n != 2)
			return vm_fail(vm, "restore_type_tag with %u arguments", a->n);
		return push(vm, it[0]);
	case G_STORAGE_TYPE:
	case G_TORCH_CLASS: break;
	}
	return vm_fail(vm, "REDUCE of a global that is not callable here");
}

/* ---- the opcode loop ---- */

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Run one pickle from p[0..n) to its STOP; *root gets the result and *used the
 * bytes consumed. The memo is per pickle; values persist across pickles. */
static int vm_run(vm_t *vm, const uint8_t *p, size_t n, const char *what, uint32_t *root, size_t *used)
{
	vm->what = what;
	vm->sp = 0;
	vm->nmarks = 0;
	for (size_t i = 0; i < vm->capmemo; i++)
		vm->memo[i] = NO_HANDLE;
	vm->nmemo = 0;
	size_t i = 0;
#define NEED(k)                                                                       \
	do {                                                                          \
		if ((uint64_t)(k) > n - i)                                            \
			return vm_fail(vm, "pickle truncated (opcode 0x%02x)", op); \
	} while (0)
	while (i < n) {
		vm->pos = i;
		uint8_t op = p[i++];
		uint32_t h, h2;
		size_t first = 0;
		switch (op) {
		case 0x80: /* PROTO */
			NEED(1);
			if (p[i] > 5)
				return vm_fail(vm, "pickle protocol %d", p[i]);
			i += 1;
			break;
		case 0x95: /* FRAME: a length hint only */
			NEED(8);
			i += 8;
			break;
		case '.': /* STOP */
			if (pop(vm, root) != 0)
				return -1;
			*used = i;
			return 0;
		case '(': /* MARK */
			if (vm->nmarks >= CKPT_MAX_PICKLE_MARKS)
				return vm_fail(vm, "more than %d nested MARKs", CKPT_MAX_PICKLE_MARKS);
			if (grow((void **)&vm->marks, &vm->capmarks, vm->nmarks + 1, sizeof *vm->marks) != 0)
				return vm_fail(vm, "out of memory");
			vm->marks[vm->nmarks++] = vm->sp;
			break;
		case '0': /* POP */
			if (vm->sp == stack_floor(vm) && vm->nmarks) {
				vm->nmarks--; /* Python pops a mark from an empty frame */
				break;
			}
			if (pop(vm, &h) != 0)
				return -1;
			break;
		case '1': /* POP_MARK */
			if (pop_mark(vm, &first) != 0)
				return -1;
			vm->sp = first;
			break;
		case '2': /* DUP */
			if (top(vm, &h) != 0 || push(vm, h) != 0)
				return -1;
			break;
		case 'N':
			if (push(vm, vm->h_none) != 0)
				return -1;
			break;
		case 0x88:
			if (push(vm, vm->h_true) != 0)
				return -1;
			break;
		case 0x89:
			if (push(vm, vm->h_false) != 0)
				return -1;
			break;
		case 'J': /* BININT */
			NEED(4);
			if (push(vm, new_int(vm, (int32_t)(uint32_t)le(p + i, 4))) != 0)
				return -1;
			i += 4;
			break;
		case 'K': /* BININT1 */
			NEED(1);
			if (push(vm, new_int(vm, p[i])) != 0)
				return -1;
			i += 1;
			break;
		case 'M': /* BININT2 */
			NEED(2);
			if (push(vm, new_int(vm, (int64_t)le(p + i, 2))) != 0)
				return -1;
			i += 2;
			break;
		case 0x8a: /* LONG1 */
		case 0x8b: /* LONG4 */ {
			int w = op == 0x8a ? 1 : 4;
			NEED(w);
			uint64_t len = le(p + i, w);
			i += (size_t)w;
			NEED(len);
			if (len > 8)
				return vm_fail(vm, "integer of %llu bytes (at most 8)", (unsigned long long)len);
			uint64_t v = le(p + i, (int)len);
			if (len > 0 && len < 8 && (p[i + len - 1] & 0x80))
				v |= ~(uint64_t)0 << (8 * len); /* sign-extend */
			if (push(vm, new_int(vm, (int64_t)v)) != 0)
				return -1;
			i += (size_t)len;
			break;
		}
		case 'G': { /* BINFLOAT, big-endian */
			NEED(8);
			uint64_t bits = 0;
			for (int k = 0; k < 8; k++)
				bits = bits << 8 | p[i + (size_t)k];
			h = vm_new(vm, PV_FLOAT);
			if (h == NO_HANDLE)
				return -1;
			memcpy(&vm->obj[h].u.f, &bits, sizeof bits);
			if (push(vm, h) != 0)
				return -1;
			i += 8;
			break;
		}
		case 'X':  /* BINUNICODE */
		case 0x8c: /* SHORT_BINUNICODE */
		case 0x8d: /* BINUNICODE8 */
		case 'T':  /* BINSTRING */
		case 'U':  /* SHORT_BINSTRING */
		case 'B':  /* BINBYTES */
		case 'C':  /* SHORT_BINBYTES */
		case 0x8e: /* BINBYTES8 */ {
			int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
			NEED(w);
			uint64_t len = le(p + i, w);
			if (op == 'T' && len > INT32_MAX)
				return vm_fail(vm, "negative string length");
			i += (size_t)w;
			NEED(len);
			pv_kind_t k = (op == 'B' || op == 'C' || op == 0x8e) ? PV_BYTES : PV_STR;
			if (k == PV_STR && vm->python_strs && !python_utf8(p + i, (size_t)len, op != 'T' && op != 'U'))
				return vm_fail(vm, "a str that is not UTF-8 (Python's unpickler, so torch.load, refuses it)");
			if (push(vm, new_str(vm, k, p + i, len)) != 0)
				return -1;
			i += (size_t)len;
			break;
		}
		case ')':
			if (push(vm, vm_new(vm, PV_TUPLE)) != 0)
				return -1;
			break;
		case 't':
			if (pop_mark(vm, &first) != 0 || push(vm, make_container(vm, PV_TUPLE, first)) != 0)
				return -1;
			break;
		case 0x85: /* TUPLE1..3 */
		case 0x86:
		case 0x87: {
			size_t k = (size_t)(op - 0x84);
			if (vm->sp - stack_floor(vm) < k)
				return vm_fail(vm, "stack underflow");
			if (push(vm, make_container(vm, PV_TUPLE, vm->sp - k)) != 0)
				return -1;
			break;
		}
		case ']':
			if (push(vm, vm_new(vm, PV_LIST)) != 0)
				return -1;
			break;
		case 'l':
			if (pop_mark(vm, &first) != 0 || push(vm, make_container(vm, PV_LIST, first)) != 0)
				return -1;
			break;
		case '}':
			if (push(vm, vm_new(vm, PV_DICT)) != 0)
				return -1;
			break;
		case 'd':
			if (pop_mark(vm, &first) != 0)
				return -1;
			if ((vm->sp - first) % 2)
				return vm_fail(vm, "DICT with an odd number of items");
			if (push(vm, make_container(vm, PV_DICT, first)) != 0)
				return -1;
			break;
		case 'a': /* APPEND */
			if (vm->sp - stack_floor(vm) < 2)
				return vm_fail(vm, "stack underflow");
			if (extend(vm, vm->stack[vm->sp - 2], vm->sp - 1, PV_LIST) != 0)
				return -1;
			break;
		case 's': /* SETITEM */
			if (vm->sp - stack_floor(vm) < 3)
				return vm_fail(vm, "stack underflow");
			if (extend(vm, vm->stack[vm->sp - 3], vm->sp - 2, PV_DICT) != 0)
				return -1;
			break;
		case 'e': /* APPENDS */
		case 'u': /* SETITEMS */
			if (pop_mark(vm, &first) != 0)
				return -1;
			if (first == 0 || first <= stack_floor(vm))
				return vm_fail(vm, "%s without a target", op == 'e' ? "APPENDS" : "SETITEMS");
			if (extend(vm, vm->stack[first - 1], first, op == 'e' ? PV_LIST : PV_DICT) != 0)
				return -1;
			break;
		case 'q': /* BINPUT */
			NEED(1);
			if (top(vm, &h) != 0 || memo_put(vm, p[i], h, n) != 0)
				return -1;
			i += 1;
			break;
		case 'r': /* LONG_BINPUT */
			NEED(4);
			if (top(vm, &h) != 0 || memo_put(vm, le(p + i, 4), h, n) != 0)
				return -1;
			i += 4;
			break;
		case 0x94: /* MEMOIZE */
			if (top(vm, &h) != 0 || memo_put(vm, vm->nmemo, h, n) != 0)
				return -1;
			break;
		case 'h': /* BINGET */
			NEED(1);
			if (memo_get(vm, p[i]) != 0)
				return -1;
			i += 1;
			break;
		case 'j': /* LONG_BINGET */
			NEED(4);
			if (memo_get(vm, le(p + i, 4)) != 0)
				return -1;
			i += 4;
			break;
		case 'c': { /* GLOBAL: "module\nname\n" */
			const uint8_t *m = p + i, *e1 = memchr(m, '\n', n - i);
			if (!e1)
				return vm_fail(vm, "GLOBAL without a newline");
			const uint8_t *nm = e1 + 1, *e2 = memchr(nm, '\n', n - (size_t)(nm - p));
			if (!e2)
				return vm_fail(vm, "GLOBAL without a second newline");
			if (push_global(vm, (const char *)m, (size_t)(e1 - m), (const char *)nm, (size_t)(e2 - nm)) != 0)
				return -1;
			i = (size_t)(e2 - p) + 1;
			break;
		}
		case 0x93: /* STACK_GLOBAL */ {
			if (pop(vm, &h2) != 0 || pop(vm, &h) != 0)
				return -1;
			const pv_t *m = &vm->obj[h], *nm = &vm->obj[h2];
			if (m->kind != PV_STR || nm->kind != PV_STR)
				return vm_fail(vm, "STACK_GLOBAL of non-strings");
			if (push_global(vm, m->u.s, m->n, nm->u.s, nm->n) != 0)
				return -1;
			break;
		}
		case 'R':
			if (reduce(vm) != 0)
				return -1;
			break;
		case 0x81: /* NEWOBJ */ {
			if (pop(vm, &h2) != 0 || pop(vm, &h) != 0)
				return -1;
			const pv_t *cls = &vm->obj[h];
			if (vm->obj[h2].kind != PV_TUPLE || cls->kind != PV_GLOBAL)
				return vm_fail(vm, "NEWOBJ needs a class and an argument tuple");
			if (cls->global == G_ORDERED_DICT) {
				if (push(vm, vm_new(vm, PV_DICT)) != 0)
					return -1;
			} else if (cls->global == G_TORCH_CLASS) {
				uint32_t o = vm_new(vm, PV_OBJECT);
				if (o == NO_HANDLE)
					return -1;
				vm->obj[o].u.s = vm->obj[h].u.s;
				vm->obj[o].n = vm->obj[h].n;
				if (push(vm, o) != 0)
					return -1;
			} else {
				return vm_fail(vm, "NEWOBJ of a global that is not a class");
			}
			break;
		}
		case 'b': /* BUILD */ {
			if (pop(vm, &h2) != 0 || top(vm, &h) != 0)
				return -1;
			pv_t *o = &vm->obj[h];
			if (o->kind == PV_OBJECT)
				o->state = h2;
			else if (o->kind != PV_DICT && o->kind != PV_TENSOR)
				return vm_fail(vm, "BUILD on a value that has no state");
			/* dict attributes (a state dict's _metadata) and tensor state carry no tensors we name */
			break;
		}
		case 'Q': /* BINPERSID */
			if (pop(vm, &h) != 0 || persistent_load(vm, h) != 0)
				return -1;
			break;
		default:
			return vm_fail(vm, "unsupported pickle opcode 0x%02x", op);
		}
	}
	vm->pos = n;
	return vm_fail(vm, "pickle ends without STOP");
#undef NEED
}

/* ---- naming tensors ---- */

typedef int (*resolve_fn)(void *ctx, pk_storage_t *s, char *err, size_t cap);

typedef struct {
	vm_t *vm;
	ckpt_t *c;
	resolve_fn resolve;
	void *ctx;
	char name[CKPT_MAX_NAME + 1];
	size_t len;
	size_t steps;
	char *err;
	size_t cap;
} walk_t;

static int emit(walk_t *w, uint32_t h)
{
	vm_t *vm = w->vm;
	pk_tensor_t *t = &vm->tn[vm->obj[h].u.idx];
	pk_storage_t *s = &vm->st[t->storage];
	const char *nm = w->len ? w->name : "tensor"; /* a file holding one bare tensor */
	size_t nl = w->len ? w->len : 6;
	tensor_t tv;
	memset(&tv, 0, sizeof tv);
	tv.dtype = s->dtype;
	tv.ndim = t->ndim;
	memcpy(tv.shape, t->shape, sizeof t->shape);
	if (!t->data) {
		if (!s->data && w->resolve(w->ctx, s, w->err, w->cap) != 0)
			return -1;
		if (ckpt_table_view(w->c, &tv, s->data + (size_t)s->view_off * dtype_size(s->dtype), t->offset,
				    t->stride, w->err, w->cap) != 0)
			return -1;
		t->data = tv.data;
		t->nbytes = tv.nbytes;
	}
	tv.data = t->data;
	tv.nbytes = t->nbytes;
	return ckpt_table_add(w->c, nm, nl, &tv, w->err, w->cap);
}

static int walk(walk_t *w, uint32_t h, int depth);

/* Walk h under name + "." + component. */
static int walk_child(walk_t *w, const char *comp, size_t cl, uint32_t h, int depth)
{
	size_t saved = w->len;
	size_t need = cl + (saved ? 1 : 0);
	if (saved + need > CKPT_MAX_NAME) {
		err_set(w->err, w->cap, "tensor name longer than %d bytes", CKPT_MAX_NAME);
		return -1;
	}
	if (saved)
		w->name[w->len++] = '.';
	memcpy(w->name + w->len, comp, cl);
	w->len += cl;
	w->name[w->len] = 0;
	int r = walk(w, h, depth + 1);
	w->len = saved;
	w->name[saved] = 0;
	return r;
}

static int walk(walk_t *w, uint32_t h, int depth)
{
	vm_t *vm = w->vm;
	if (++w->steps > CKPT_MAX_WALK_STEPS) {
		err_set(w->err, w->cap, "object graph too large to name (over %d visits)", CKPT_MAX_WALK_STEPS);
		return -1;
	}
	if (depth > CKPT_MAX_DEPTH) {
		err_set(w->err, w->cap, "objects nested deeper than %d (a cycle?)", CKPT_MAX_DEPTH);
		return -1;
	}
	const pv_t *o = &vm->obj[h];
	char num[24];
	switch ((pv_kind_t)o->kind) {
	case PV_TENSOR: return emit(w, h);
	case PV_OBJECT: return walk(w, o->state, depth + 1);
	case PV_TUPLE:
	case PV_LIST:
		for (uint32_t i = 0; i < o->n; i++) {
			int l = snprintf(num, sizeof num, "%u", i);
			if (walk_child(w, num, (size_t)l, vm->obj[h].u.items[i], depth) != 0)
				return -1;
		}
		return 0;
	case PV_DICT:
		for (uint32_t i = 0; i + 1 < o->n; i += 2) {
			const pv_t *k = &vm->obj[vm->obj[h].u.items[i]];
			uint32_t v = vm->obj[h].u.items[i + 1];
			int r = 0;
			if (k->kind == PV_STR) {
				r = walk_child(w, k->u.s, k->n, v, depth);
			} else if (k->kind == PV_INT) {
				int l = snprintf(num, sizeof num, "%lld", (long long)k->u.i);
				r = walk_child(w, num, (size_t)l, v, depth);
			}
			if (r != 0)
				return -1;
		}
		return 0;
	default: return 0;
	}
}

static int name_tensors(vm_t *vm, ckpt_t *c, uint32_t root, resolve_fn fn, void *ctx, char *err, size_t cap)
{
	walk_t *w = calloc(1, sizeof *w);
	if (!w) {
		err_set(err, cap, "out of memory");
		return -1;
	}
	w->vm = vm;
	w->c = c;
	w->resolve = fn;
	w->ctx = ctx;
	w->err = err;
	w->cap = cap;
	int r = walk(w, root, 0);
	free(w);
	return r;
}

/* ---- PyTorch zip and TorchScript ---- */

typedef struct {
	const ckpt_zip_t *z;
	const uint8_t *p;
	size_t n;
	const char *prefix; /* "<prefix>/" */
	size_t prefix_len;
} zip_ctx_t;

static int storage_bytes(const pk_storage_t *s, uint64_t *bytes)
{
	return __builtin_mul_overflow((uint64_t)s->root_numel, (uint64_t)dtype_size(s->dtype), bytes) ? -1 : 0;
}

static int resolve_zip(void *ctx, pk_storage_t *s, char *err, size_t cap)
{
	zip_ctx_t *zc = ctx;
	char name[CKPT_MAX_NAME + 64];
	char key[128];
	ckpt_printable(key, sizeof key, s->key, s->key_len);
	if (zc->prefix_len + 5 + s->key_len >= sizeof name) {
		err_set(err, cap, "storage key '%s' too long", key);
		return -1;
	}
	memcpy(name, zc->prefix, zc->prefix_len);
	memcpy(name + zc->prefix_len, "data/", 5);
	memcpy(name + zc->prefix_len + 5, s->key, s->key_len);
	size_t nl = zc->prefix_len + 5 + s->key_len;
	const ckpt_zip_entry_t *e = ckpt_zip_find(zc->z, name, nl);
	if (!e) {
		err_set(err, cap, "storage '%s': no zip entry '%.*s'", key, (int)(nl > 200 ? 200 : nl), name);
		return -1;
	}
	const uint8_t *data;
	if (ckpt_zip_data(e, zc->p, zc->n, &data, err, cap) != 0)
		return -1;
	uint64_t need;
	if (storage_bytes(s, &need) != 0 || need > e->size) {
		err_set(err, cap, "storage '%s': %lld elements of %zu bytes need more than the entry's %llu bytes", key,
			  (long long)s->root_numel, dtype_size(s->dtype), (unsigned long long)e->size);
		return -1;
	}
	s->data = data;
	return 0;
}

/* PyTorch 1.13's reader (caffe2's inline_container.cc) wants a record
 * <prefix>/version read as std::stoll reads it (leading blanks, a sign,
 * decimal digits, anything after them ignored) between 1 and 10 (its
 * kMaxSupportedFileFormatVersion); other files it refuses, so do we. */
static int check_version(const zip_ctx_t *zc, char *err, size_t cap)
{
	char name[CKPT_MAX_NAME + 8];
	if (zc->prefix_len + 7 >= sizeof name) {
		err_set(err, cap, "archive name too long");
		return -1;
	}
	memcpy(name, zc->prefix, zc->prefix_len);
	memcpy(name + zc->prefix_len, "version", 7);
	const ckpt_zip_entry_t *e = ckpt_zip_find(zc->z, name, zc->prefix_len + 7);
	const uint8_t *d;
	if (!e) {
		err_set(err, cap, "no <prefix>/version record (PyTorch refuses such a file)");
		return -1;
	}
	if (ckpt_zip_data(e, zc->p, zc->n, &d, err, cap) != 0)
		return -1;
	size_t i = 0, n = (size_t)e->size;
	while (i < n && (d[i] == ' ' || (d[i] >= '\t' && d[i] <= '\r')))
		i++;
	int neg = i < n && d[i] == '-';
	if (i < n && (d[i] == '-' || d[i] == '+'))
		i++;
	size_t digits = 0;
	uint64_t v = 0;
	for (; i < n && d[i] >= '0' && d[i] <= '9'; i++, digits++)
		v = v > 1000 ? v : v * 10 + (uint64_t)(d[i] - '0'); /* past 10 the value no longer matters */
	char shown[24];
	ckpt_printable(shown, sizeof shown, (const char *)d, n);
	if (!digits) {
		err_set(err, cap, "version record '%s' is not a number (PyTorch refuses the file)", shown);
		return -1;
	}
	if (neg || v < 1 || v > 10) {
		err_set(err, cap, "format version '%s', outside the 1..10 PyTorch reads (it refuses the file)", shown);
		return -1;
	}
	return 0;
}

int ckpt_read_torch_zip(ckpt_t *c, const uint8_t *p, size_t n, char *err, size_t cap)
{
	ckpt_zip_t z;
	if (ckpt_zip_open(p, n, &z, err, cap) != 0)
		return -1;
	int rc = -1;
	vm_t vm;
	int vm_ok = 0;
	/* <prefix>/data.pkl with a prefix free of '/': the archive's one record */
	const ckpt_zip_entry_t *pkl = NULL;
	for (size_t i = 0; i < z.n; i++) {
		const ckpt_zip_entry_t *e = &z.e[i];
		if (e->name_len > 9 && memcmp(e->name + e->name_len - 9, "/data.pkl", 9) == 0 &&
		    !memchr(e->name, '/', e->name_len - 9)) {
			if (pkl) {
				err_set(err, cap, "zip holds more than one <prefix>/data.pkl");
				goto out;
			}
			pkl = e;
		}
	}
	if (!pkl) {
		err_set(err, cap, "zip file without <prefix>/data.pkl: not a PyTorch checkpoint");
		goto out;
	}
	zip_ctx_t zc = {&z, p, n, pkl->name, pkl->name_len - 8};
	char what[200];
	ckpt_printable(what, sizeof what, pkl->name, pkl->name_len);
	/* byteorder, written by newer PyTorch: storages are only read little-endian */
	char boname[CKPT_MAX_NAME];
	if (zc.prefix_len + 9 < sizeof boname) {
		memcpy(boname, zc.prefix, zc.prefix_len);
		memcpy(boname + zc.prefix_len, "byteorder", 9);
		const ckpt_zip_entry_t *bo = ckpt_zip_find(&z, boname, zc.prefix_len + 9);
		const uint8_t *bd;
		if (bo) {
			if (ckpt_zip_data(bo, p, n, &bd, err, cap) != 0)
				goto out;
			if (bo->size != 6 || memcmp(bd, "little", 6) != 0) {
				err_set(err, cap, "storages are not little-endian (byteorder entry)");
				goto out;
			}
		}
	}
	if (check_version(&zc, err, cap) != 0)
		goto out;
	const uint8_t *pd;
	if (ckpt_zip_data(pkl, p, n, &pd, err, cap) != 0)
		goto out;
	vm_ok = 1; /* vm_init leaves vm freeable even when it fails */
	if (vm_init(&vm, err, cap) != 0)
		goto out;
	/* torch.save's archive goes through Python's unpickler; TorchScript's
	 * (code/, constants.pkl) through C++'s, which takes any bytes */
	vm.python_strs = 1;
	for (size_t i = 0; i < z.n; i++) {
		const ckpt_zip_entry_t *e = &z.e[i];
		if ((e->name_len >= 14 && memcmp(e->name + e->name_len - 14, "/constants.pkl", 14) == 0) ||
		    has_code_dir(e->name, e->name_len))
			vm.python_strs = 0;
	}
	uint32_t root;
	size_t used;
	if (vm_run(&vm, pd, (size_t)pkl->size, what, &root, &used) != 0)
		goto out;
	/* PyTorch loads the record of every storage the pickle names as it
	 * unpickles, not only those of the tensors it ends up naming: one that
	 * is missing or short refuses the file */
	for (size_t i = 0; i < vm.nst; i++)
		if (!vm.st[i].data && resolve_zip(&zc, &vm.st[i], err, cap) != 0)
			goto out;
	ckpt_table_set_format(c, vm.obj[root].kind == PV_OBJECT ? CKPT_TORCHSCRIPT : CKPT_PYTORCH_ZIP);
	rc = name_tensors(&vm, c, root, resolve_zip, &zc, err, cap);
out:
	if (vm_ok)
		vm_free(&vm);
	ckpt_zip_free(&z);
	return rc;
}

/* ---- legacy ---- */

/* The first pickle of every legacy file: PROTO 2, LONG1 of the 10-byte magic
 * number 0x1950a86a20f9469cfc6c, STOP. */
static const uint8_t legacy_magic[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
					 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

int ckpt_legacy_sniff(const uint8_t *p, size_t n)
{
	return n >= sizeof legacy_magic && memcmp(p, legacy_magic, sizeof legacy_magic) == 0;
}

static int resolve_legacy(void *ctx, pk_storage_t *s, char *err, size_t cap)
{
	(void)ctx;
	char key[128];
	ckpt_printable(key, sizeof key, s->key, s->key_len);
	err_set(err, cap, "storage '%s' is not in the file's storage list", key);
	return -1;
}

static int cmp_storage_key(const void *a, const void *b)
{
	const pk_storage_t *x = *(pk_storage_t *const *)a, *y = *(pk_storage_t *const *)b;
	size_t m = x->key_len < y->key_len ? x->key_len : y->key_len;
	int r = memcmp(x->key, y->key, m);
	return r ? r : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Give every storage whose key is listed its bytes, which follow the pickles
 * as (i64 element count, data) in the list's order. */
static int legacy_storages(vm_t *vm, uint32_t keys, const uint8_t *p, size_t n, size_t at, char *err, size_t cap)
{
	const pv_t *kl = &vm->obj[keys];
	if (kl->kind != PV_LIST && kl->kind != PV_TUPLE) {
		err_set(err, cap, "legacy storage key list is not a list");
		return -1;
	}
	pk_storage_t **by_key = malloc((vm->nst ? vm->nst : 1) * sizeof *by_key);
	if (!by_key) {
		err_set(err, cap, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < vm->nst; i++)
		by_key[i] = &vm->st[i];
	qsort(by_key, vm->nst, sizeof *by_key, cmp_storage_key);
	int rc = -1;
	for (uint32_t k = 0; k < kl->n; k++) {
		const pv_t *ks = &vm->obj[kl->u.items[k]];
		if (ks->kind != PV_STR) {
			err_set(err, cap, "legacy storage key %u is not a string", k);
			goto out;
		}
		char key[128];
		ckpt_printable(key, sizeof key, ks->u.s, ks->n);
		pk_storage_t probe = {.key = ks->u.s, .key_len = ks->n}, *pp = &probe;
		pk_storage_t **hit = vm->nst ? bsearch(&pp, by_key, vm->nst, sizeof *by_key, cmp_storage_key) : NULL;
		if (!hit) {
			err_set(err, cap, "legacy storage '%s' is listed but no tensor uses it", key);
			goto out;
		}
		while (hit > by_key && cmp_storage_key(hit - 1, &pp) == 0)
			hit--;
		if (n - at < 8) {
			err_set(err, cap, "legacy storage '%s': file ends before its size", key);
			goto out;
		}
		uint64_t count = le(p + at, 8), bytes;
		at += 8;
		size_t isz = dtype_size((*hit)->dtype);
		if (__builtin_mul_overflow(count, (uint64_t)isz, &bytes) || bytes > n - at) {
			err_set(err, cap, "legacy storage '%s': %llu elements run past the end of the file", key,
				  (unsigned long long)count);
			goto out;
		}
		for (pk_storage_t **s = hit; s < by_key + vm->nst && cmp_storage_key(s, &pp) == 0; s++) {
			if ((*s)->dtype != (*hit)->dtype || (uint64_t)(*s)->root_numel != count) {
				err_set(err, cap, "legacy storage '%s': %llu elements stored, %lld declared", key,
					  (unsigned long long)count, (long long)(*s)->root_numel);
				goto out;
			}
			if ((*s)->data) {
				err_set(err, cap, "legacy storage '%s' is listed twice", key);
				goto out;
			}
			(*s)->data = p + at;
		}
		at += (size_t)bytes;
	}
	rc = 0;
out:
	free(by_key);
	return rc;
}

int ckpt_read_legacy(ckpt_t *c, const uint8_t *p, size_t n, char *err, size_t cap)
{
	vm_t vm;
	if (vm_init(&vm, err, cap) != 0) {
		vm_free(&vm);
		return -1;
	}
	vm.python_strs = 1; /* torch.load's */
	int rc = -1;
	size_t at = sizeof legacy_magic, used;
	uint32_t version, sysinfo, root, keys;
	if (vm_run(&vm, p + at, n - at, "legacy pickle 2 (protocol version)", &version, &used) != 0)
		goto out;
	at += used;
	if (vm.obj[version].kind != PV_INT || vm.obj[version].u.i != 1001) {
		err_set(err, cap, "legacy protocol version is not 1001");
		goto out;
	}
	if (vm_run(&vm, p + at, n - at, "legacy pickle 3 (sys info)", &sysinfo, &used) != 0)
		goto out;
	at += used;
	const pv_t *si = &vm.obj[sysinfo];
	for (uint32_t i = 0; si->kind == PV_DICT && i + 1 < si->n; i += 2) {
		const pv_t *v = &vm.obj[si->u.items[i + 1]];
		if (str_is(&vm.obj[si->u.items[i]], "little_endian") && v->kind == PV_BOOL && !v->u.i) {
			err_set(err, cap, "big-endian legacy checkpoints are not supported");
			goto out;
		}
	}
	if (vm_run(&vm, p + at, n - at, "legacy pickle 4 (object)", &root, &used) != 0)
		goto out;
	at += used;
	if (vm_run(&vm, p + at, n - at, "legacy pickle 5 (storage keys)", &keys, &used) != 0)
		goto out;
	at += used;
	if (legacy_storages(&vm, keys, p, n, at, err, cap) != 0)
		goto out;
	ckpt_table_set_format(c, CKPT_PYTORCH_LEGACY);
	rc = name_tensors(&vm, c, root, resolve_legacy, NULL, err, cap);
out:
	vm_free(&vm);
	return rc;
}
