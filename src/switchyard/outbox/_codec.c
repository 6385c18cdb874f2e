/* The outbox's native codec: verify a WAL batch and turn its records into Kafka messages.

   The outbox's work per record in Python cost ~3.7 us of one thread (frame checks, CRC, chain
   hash, msgpack decode, envelope build, JSON encode), against ~0.5 us for the produce() call it
   feeds; a bare producer's whole cost is 1.6-2 us (docs/PERFORMANCE.md "Outbox"). This module
   does the same work in one C call per batch:

   Codec.verify(body, count, first_seq, prev_hash) -> bool
       Every record of a batch frame's body: magic and version, length, crc32, consecutive
       seqs, chain hash H(prev || header || payload) (HMAC-SHA256 with a key, else SHA-256),
       no stray bytes. Exactly the checks of wal/scan.py `_parse_records`. It says only yes or
       no: on no, the caller runs that reference parser, which names the problem (the same
       WALCorruption, file, offset and reason as every other reader).
   Codec.encode(body, pos, max_count, source) -> (pos, values, keys, timestamps_ms)
       The Kafka messages (envelope JSON, key, the record's time in ms) of up to `max_count`
       records from byte `pos` of a body `verify` accepted, and where it stopped; the envelope byte-identical to
       outbox/envelope.py `EnvelopeEncoder.encode_keyed`. It stops early, without consuming it,
       at a record it does not handle (a payload msgspec would refuse or read differently: an
       unknown type, a wrong msgpack kind, invalid UTF-8, an unknown enum value, a short or long
       array, trailing bytes; a record type marked for Python, i.e. SessionStarted, which changes
       the source; a time before 1970): the caller hands that record to the Python reference,
       which raises PayloadError or encodes it. So the fast path never decides anything the
       reference would decide differently; tests compare both on every record type, random
       strings and every byte flip of a batch.

   The per-type tables (field kinds, JSON names, enum names, defaults, key and lifted fields) are
   generated in Python from the msgspec Structs (outbox/native.py) and handed over once. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_CTX: copying a precomputed state is the point */
#include <openssl/sha.h>

/* --- the WAL record frame (wal/format.py) ------------------------------------------------ */

#define RECORD_HEADER_SIZE 24
#define CHAIN_SIZE 32
#define RECORD_OVERHEAD (RECORD_HEADER_SIZE + CHAIN_SIZE + 4)
#define FORMAT_VERSION 1
#define RECORD_TYPES 256
#define SECONDS_MAX 253402300799LL /* 9999-12-31T23:59:59: four-digit years only */

static inline uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t be64(const unsigned char *p) {
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* --- schema tables ----------------------------------------------------------------------- */

enum Kind { KIND_INT = 0, KIND_STR = 1, KIND_BOOL = 2, KIND_ENUM = 3, KIND_STR_TUPLE = 4 };

typedef struct {
    int64_t value;
    char *json; /* "NAME" with quotes */
    Py_ssize_t json_len;
} EnumName;

typedef struct {
    int kind;
    char *prefix; /* `,"camelName":` (no comma for the first data field); NULL: lifted */
    Py_ssize_t prefix_len;
    char *default_json; /* JSON of the default when the array is shorter; NULL: required */
    Py_ssize_t default_len;
    EnumName *names;
    Py_ssize_t names_count;
    const EnumName **by_value; /* names indexed by value, for values in [0, by_value_count) */
    Py_ssize_t by_value_count;
} Field;

typedef struct {
    int present;
    int python_only; /* handled by the reference path (SessionStarted) */
    char *after_seq; /* `","eventType":"OrderFilled","seq":` */
    Py_ssize_t after_seq_len;
    Field *fields;
    Py_ssize_t fields_count;
    Py_ssize_t required_count; /* fields before the first one with a default */
    Py_ssize_t key_index;
    Py_ssize_t account_index; /* -1: none (accountId null) */
    Py_ssize_t order_index;   /* -1: none (orderId null) */
    Py_ssize_t static_len;    /* an upper bound of the fixed text of one envelope */
} Schema;

/* One decoded field of the record being encoded: a view into the payload. */
typedef struct {
    const unsigned char *ptr; /* str: its UTF-8 bytes; tuple: the first element's header */
    const unsigned char *end; /* tuple: the end of its last element */
    Py_ssize_t len;           /* str: byte length; tuple: element count */
    uint64_t number;          /* int/enum/bool value (two's complement for negatives) */
    int negative;
    int missing; /* beyond the payload's array: the default */
    const EnumName *name;
} Slot;

#define FIELDS_MAX 64

typedef struct {
    PyObject_HEAD
    Schema schemas[RECORD_TYPES];
    int keyed;
    SHA256_CTX inner; /* SHA-256 after the HMAC inner pad (or empty, without a key) */
    SHA256_CTX outer; /* after the outer pad (keyed only) */
    char *out;
    Py_ssize_t out_cap;
    int64_t second; /* one-second cache of the "YYYY-MM-DDTHH:MM:SS." text */
    char second_text[20];
    int64_t last_ms; /* the last timestamp (ms) handed out and its int: records come in bursts */
    PyObject *last_ms_object;
} CodecObject;

static void schema_free(Schema *schema) {
    if (schema->fields != NULL) {
        for (Py_ssize_t i = 0; i < schema->fields_count; i++) {
            Field *field = &schema->fields[i];
            PyMem_Free(field->prefix);
            PyMem_Free(field->default_json);
            if (field->names != NULL) {
                for (Py_ssize_t j = 0; j < field->names_count; j++) {
                    PyMem_Free(field->names[j].json);
                }
                PyMem_Free(field->names);
            }
            PyMem_Free(field->by_value);
        }
        PyMem_Free(schema->fields);
    }
    PyMem_Free(schema->after_seq);
    memset(schema, 0, sizeof(*schema));
}

static int copy_bytes(PyObject *object, char **out, Py_ssize_t *out_len, const char *what) {
    if (object == Py_None) {
        *out = NULL;
        *out_len = 0;
        return 0;
    }
    if (!PyBytes_Check(object)) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes or None", what);
        return -1;
    }
    Py_ssize_t len = PyBytes_GET_SIZE(object);
    char *copy = PyMem_Malloc(len ? (size_t)len : 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(copy, PyBytes_AS_STRING(object), (size_t)len);
    *out = copy;
    *out_len = len;
    return 0;
}

/* field: (kind, prefix | None, default_json | None, {value: name_json} | None) */
static int field_load(Field *field, PyObject *spec) {
    int kind;
    PyObject *prefix, *default_json, *names;
    if (!PyArg_ParseTuple(spec, "iOOO", &kind, &prefix, &default_json, &names)) {
        return -1;
    }
    if (kind < KIND_INT || kind > KIND_STR_TUPLE) {
        PyErr_Format(PyExc_ValueError, "unknown field kind %d", kind);
        return -1;
    }
    field->kind = kind;
    if (copy_bytes(prefix, &field->prefix, &field->prefix_len, "field prefix") < 0 ||
        copy_bytes(default_json, &field->default_json, &field->default_len, "default") < 0) {
        return -1;
    }
    if (kind == KIND_ENUM) {
        if (!PyDict_Check(names)) {
            PyErr_SetString(PyExc_TypeError, "an enum field needs a {value: name_json} dict");
            return -1;
        }
        Py_ssize_t count = PyDict_GET_SIZE(names);
        field->names = PyMem_Calloc(count ? (size_t)count : 1, sizeof(EnumName));
        if (field->names == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t position = 0, index = 0;
        PyObject *value, *name;
        while (PyDict_Next(names, &position, &value, &name)) {
            EnumName *entry = &field->names[index];
            entry->value = PyLong_AsLongLong(value);
            if (entry->value == -1 && PyErr_Occurred()) {
                return -1;
            }
            if (copy_bytes(name, &entry->json, &entry->json_len, "enum name") < 0) {
                return -1;
            }
            field->names_count = ++index;
        }
        /* enum values are small non-negative ints: look them up by index, not by a search */
        Py_ssize_t size = 0;
        for (Py_ssize_t i = 0; i < field->names_count; i++) {
            int64_t value = field->names[i].value;
            if (value >= 0 && value < 4096 && value + 1 > size) {
                size = (Py_ssize_t)value + 1;
            }
        }
        field->by_value = PyMem_Calloc(size ? (size_t)size : 1, sizeof(EnumName *));
        if (field->by_value == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        field->by_value_count = size;
        for (Py_ssize_t i = 0; i < field->names_count; i++) {
            int64_t value = field->names[i].value;
            if (value >= 0 && value < size) {
                field->by_value[value] = &field->names[i];
            }
        }
    }
    return 0;
}

/* schema: (python_only, after_seq, fields, key_index, account_index, order_index) */
static int schema_load(Schema *schema, PyObject *spec) {
    int python_only;
    PyObject *after_seq, *fields;
    Py_ssize_t key_index, account_index, order_index;
    if (!PyArg_ParseTuple(spec, "pSO!nnn", &python_only, &after_seq, &PyTuple_Type, &fields,
                          &key_index, &account_index, &order_index)) {
        return -1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(fields);
    if (count > FIELDS_MAX || key_index < 0 || key_index >= count || account_index >= count ||
        order_index >= count) {
        PyErr_SetString(PyExc_ValueError, "schema indexes out of range");
        return -1;
    }
    schema->present = 1;
    schema->python_only = python_only;
    schema->key_index = key_index;
    schema->account_index = account_index;
    schema->order_index = order_index;
    if (copy_bytes(after_seq, &schema->after_seq, &schema->after_seq_len, "after_seq") < 0) {
        return -1;
    }
    schema->fields = PyMem_Calloc(count ? (size_t)count : 1, sizeof(Field));
    if (schema->fields == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    schema->fields_count = count;
    schema->required_count = count;
    Py_ssize_t static_len = 256 + schema->after_seq_len;
    for (Py_ssize_t i = 0; i < count; i++) {
        Field *field = &schema->fields[i];
        if (field_load(field, PyTuple_GET_ITEM(fields, i)) < 0) {
            return -1;
        }
        if (field->default_json != NULL && schema->required_count == count) {
            schema->required_count = i;
        }
        if (field->default_json == NULL && schema->required_count < count) {
            PyErr_SetString(PyExc_ValueError, "a required field after one with a default");
            return -1;
        }
        Py_ssize_t widest = field->default_len;
        for (Py_ssize_t j = 0; j < field->names_count; j++) {
            if (field->names[j].json_len > widest) {
                widest = field->names[j].json_len;
            }
        }
        static_len += field->prefix_len + widest + 24; /* 24: an int's digits and sign */
    }
    Py_ssize_t lifted[3] = {key_index, account_index, order_index};
    for (int i = 0; i < 3; i++) {
        if (lifted[i] >= 0 && (schema->fields[lifted[i]].kind != KIND_STR ||
                               lifted[i] >= schema->required_count)) {
            PyErr_SetString(PyExc_ValueError, "key and lifted fields must be required str");
            return -1;
        }
    }
    schema->static_len = static_len;
    return 0;
}

static void Codec_dealloc(CodecObject *self) {
    for (int i = 0; i < RECORD_TYPES; i++) {
        schema_free(&self->schemas[i]);
    }
    PyMem_Free(self->out);
    Py_XDECREF(self->last_ms_object);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Codec(schemas: {record_type: schema}, hmac_key: bytes | None) */
static int Codec_init(CodecObject *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"schemas", "hmac_key", NULL};
    PyObject *schemas, *key;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O", keywords, &PyDict_Type, &schemas, &key)) {
        return -1;
    }
    for (int i = 0; i < RECORD_TYPES; i++) {
        schema_free(&self->schemas[i]);
    }
    Py_ssize_t position = 0;
    PyObject *record_type, *spec;
    while (PyDict_Next(schemas, &position, &record_type, &spec)) {
        long type = PyLong_AsLong(record_type);
        if (type == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (type < 0 || type >= RECORD_TYPES) {
            PyErr_Format(PyExc_ValueError, "record type %ld out of range", type);
            return -1;
        }
        if (schema_load(&self->schemas[type], spec) < 0) {
            schema_free(&self->schemas[type]);
            return -1;
        }
    }
    /* The chain hasher of wal/format.py ChainHasher: HMAC from precomputed pad states. */
    const unsigned char *key_bytes = NULL;
    Py_ssize_t key_len = 0;
    if (key != Py_None) {
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "hmac_key must be bytes or None");
            return -1;
        }
        key_bytes = (const unsigned char *)PyBytes_AS_STRING(key);
        key_len = PyBytes_GET_SIZE(key);
    }
    self->keyed = key_len > 0;
    SHA256_Init(&self->inner);
    if (self->keyed) {
        unsigned char padded[64] = {0}, pad[64];
        if (key_len > 64) {
            SHA256(key_bytes, (size_t)key_len, padded);
        } else {
            memcpy(padded, key_bytes, (size_t)key_len);
        }
        for (int i = 0; i < 64; i++) {
            pad[i] = padded[i] ^ 0x36;
        }
        SHA256_Update(&self->inner, pad, 64);
        for (int i = 0; i < 64; i++) {
            pad[i] = padded[i] ^ 0x5c;
        }
        SHA256_Init(&self->outer);
        SHA256_Update(&self->outer, pad, 64);
    }
    self->second = -1;
    return 0;
}

/* --- crc32 --------------------------------------------------------------------------------

   zlib's crc32 (Debian's 1.2.13: tables, no SIMD) was a fifth of the codec's time. On x86-64
   with PCLMULQDQ the whole 64- and 16-byte blocks are folded with carry-less multiplies (Intel,
   "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", the bit-reflected constants
   of zlib's polynomial, as Chromium's zlib crc32_simd.c) and zlib does the remaining < 16
   bytes; elsewhere zlib does it all. tests/unit/outbox/test_native.py compares it with
   zlib.crc32 on every length up to 1,100 bytes and random data. */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CRC_FOLDING 1

__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc32_fold(const unsigned char *buf, size_t len, uint32_t crc) {
    /* len >= 64 and a multiple of 16; crc and result in zlib's internal (inverted) form */
    static const uint64_t __attribute__((aligned(16))) k1k2[] = {0x0154442bd4, 0x01c6e41596};
    static const uint64_t __attribute__((aligned(16))) k3k4[] = {0x01751997d0, 0x00ccaa009e};
    static const uint64_t __attribute__((aligned(16))) k5k0[] = {0x0163cd6124, 0x0000000000};
    static const uint64_t __attribute__((aligned(16))) poly[] = {0x01db710641, 0x01f7011641};
    __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

    x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
    x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
    x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
    x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    x0 = _mm_load_si128((const __m128i *)k1k2);
    buf += 64;
    len -= 64;
    while (len >= 64) { /* four 128-bit lanes in parallel */
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
        x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
        x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
        x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
        x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
        y5 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
        y6 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
        y7 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
        y8 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
        buf += 64;
        len -= 64;
    }
    x0 = _mm_load_si128((const __m128i *)k3k4); /* fold the four lanes into one */
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
    while (len >= 16) { /* single 16-byte blocks */
        x2 = _mm_loadu_si128((const __m128i *)buf);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
        buf += 16;
        len -= 16;
    }
    x2 = _mm_clmulepi64_si128(x1, x0, 0x10); /* 128 -> 64 bits */
    x3 = _mm_setr_epi32(~0, 0, ~0, 0);
    x1 = _mm_srli_si128(x1, 8);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_loadl_epi64((const __m128i *)k5k0);
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, x3);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_load_si128((const __m128i *)poly); /* Barrett reduction to 32 bits */
    x2 = _mm_and_si128(x1, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
    x2 = _mm_and_si128(x2, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int crc_folding; /* the CPU has PCLMULQDQ and SSE4.1 (set at import) */
#endif

static uint32_t crc32_of(const unsigned char *buf, size_t len) {
    uint32_t crc = 0;
#ifdef CRC_FOLDING
    if (crc_folding && len >= 64) {
        size_t whole = len & ~(size_t)15;
        crc = ~crc32_fold(buf, whole, ~crc);
        buf += whole;
        len -= whole;
    }
#endif
    return (uint32_t)crc32_z(crc, buf, len);
}

static PyObject *codec_crc32(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    uint32_t crc = crc32_of(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(crc);
}

/* --- verify ------------------------------------------------------------------------------ */

static void chain_next(CodecObject *self, const unsigned char *prev, const unsigned char *body,
                       size_t length, unsigned char out[CHAIN_SIZE]) {
    SHA256_CTX context = self->inner;
    SHA256_Update(&context, prev, CHAIN_SIZE);
    SHA256_Update(&context, body, length);
    if (!self->keyed) {
        SHA256_Final(out, &context);
        return;
    }
    unsigned char inner[CHAIN_SIZE];
    SHA256_Final(inner, &context);
    context = self->outer;
    SHA256_Update(&context, inner, CHAIN_SIZE);
    SHA256_Final(out, &context);
}

static int verify_records(CodecObject *self, const unsigned char *body, Py_ssize_t length,
                          Py_ssize_t count, const unsigned char *prev) {
    Py_ssize_t pos = 0;
    uint64_t expected = 0;
    unsigned char chain[CHAIN_SIZE];
    for (Py_ssize_t index = 0; index < count; index++) {
        const unsigned char *record = body + pos;
        if (length - pos < RECORD_OVERHEAD) {
            return 0;
        }
        if (record[0] != 'S' || record[1] != 'R' || record[2] != FORMAT_VERSION) {
            return 0;
        }
        Py_ssize_t end = pos + RECORD_OVERHEAD + (Py_ssize_t)le32(record + 4);
        if (end > length) {
            return 0;
        }
        Py_ssize_t crc_at = end - 4;
        if (crc32_of(record, (size_t)(crc_at - pos)) != le32(body + crc_at)) {
            return 0;
        }
        uint64_t seq = le64(record + 8);
        if (index > 0 && seq != expected) { /* the first seq is checked against the header */
            return 0;
        }
        expected = seq + 1;
        Py_ssize_t body_end = crc_at - CHAIN_SIZE;
        chain_next(self, prev, record, (size_t)(body_end - pos), chain);
        if (memcmp(chain, body + body_end, CHAIN_SIZE) != 0) {
            return 0;
        }
        prev = body + body_end;
        pos = end;
    }
    return pos == length;
}

static PyObject *Codec_verify(CodecObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "verify(body, count, first_seq, prev_hash)");
        return NULL;
    }
    PyObject *body = args[0], *prev = args[3];
    if (!PyBytes_Check(body) || !PyBytes_Check(prev)) {
        PyErr_SetString(PyExc_TypeError, "body and prev_hash must be bytes");
        return NULL;
    }
    Py_ssize_t count = PyLong_AsSsize_t(args[1]);
    if (count == -1 && PyErr_Occurred()) {
        return NULL;
    }
    uint64_t first_seq = PyLong_AsUnsignedLongLong(args[2]);
    if (first_seq == (uint64_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyBytes_GET_SIZE(prev) != CHAIN_SIZE) {
        PyErr_SetString(PyExc_ValueError, "prev_hash must be 32 bytes");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(body);
    Py_ssize_t length = PyBytes_GET_SIZE(body);
    int ok = count >= 1 && length >= RECORD_OVERHEAD && le64(data + 8) == first_seq &&
             verify_records(self, data, length, count,
                            (const unsigned char *)PyBytes_AS_STRING(prev));
    return PyBool_FromLong(ok);
}

/* --- msgpack (the subset msgspec writes for our Structs) --------------------------------- */

/* Strict UTF-8 as CPython decodes it: no overlongs, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) {
                return 0;
            }
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) {
                return 0;
            }
            if (c == 0xE0 && s[i + 1] < 0xA0) {
                return 0; /* overlong */
            }
            if (c == 0xED && s[i + 1] >= 0xA0) {
                return 0; /* surrogate */
            }
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80) {
                return 0;
            }
            if (c == 0xF0 && s[i + 1] < 0x90) {
                return 0; /* overlong */
            }
            if (c == 0xF4 && s[i + 1] >= 0x90) {
                return 0; /* above U+10FFFF */
            }
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} Reader;

/* Each returns 1 on success, 0 for anything else (the reference path decides). */

static int read_array(Reader *r, Py_ssize_t *count) {
    if (r->p >= r->end) {
        return 0;
    }
    unsigned char b = *r->p;
    if ((b & 0xF0) == 0x90) {
        *count = b & 0x0F;
        r->p += 1;
    } else if (b == 0xDC && r->end - r->p >= 3) {
        *count = be16(r->p + 1);
        r->p += 3;
    } else if (b == 0xDD && r->end - r->p >= 5) {
        *count = be32(r->p + 1);
        r->p += 5;
    } else {
        return 0;
    }
    return 1;
}

static int read_str(Reader *r, const unsigned char **ptr, Py_ssize_t *len) {
    if (r->p >= r->end) {
        return 0;
    }
    unsigned char b = *r->p;
    Py_ssize_t n, head;
    if ((b & 0xE0) == 0xA0) {
        n = b & 0x1F;
        head = 1;
    } else if (b == 0xD9 && r->end - r->p >= 2) {
        n = r->p[1];
        head = 2;
    } else if (b == 0xDA && r->end - r->p >= 3) {
        n = be16(r->p + 1);
        head = 3;
    } else if (b == 0xDB && r->end - r->p >= 5) {
        n = be32(r->p + 1);
        head = 5;
    } else {
        return 0;
    }
    if (r->end - r->p - head < n || !utf8_valid(r->p + head, n)) {
        return 0;
    }
    *ptr = r->p + head;
    *len = n;
    r->p += head + n;
    return 1;
}

static int read_int(Reader *r, uint64_t *value, int *negative) {
    if (r->p >= r->end) {
        return 0;
    }
    const unsigned char *p = r->p;
    Py_ssize_t left = r->end - p;
    unsigned char b = *p;
    int64_t s;
    *negative = 0;
    if (b <= 0x7F) {
        *value = b;
        r->p += 1;
        return 1;
    }
    if (b >= 0xE0) {
        s = (int8_t)b;
        r->p += 1;
    } else if (b == 0xCC && left >= 2) {
        *value = p[1];
        r->p += 2;
        return 1;
    } else if (b == 0xCD && left >= 3) {
        *value = be16(p + 1);
        r->p += 3;
        return 1;
    } else if (b == 0xCE && left >= 5) {
        *value = be32(p + 1);
        r->p += 5;
        return 1;
    } else if (b == 0xCF && left >= 9) {
        *value = be64(p + 1);
        r->p += 9;
        return 1;
    } else if (b == 0xD0 && left >= 2) {
        s = (int8_t)p[1];
        r->p += 2;
    } else if (b == 0xD1 && left >= 3) {
        s = (int16_t)be16(p + 1);
        r->p += 3;
    } else if (b == 0xD2 && left >= 5) {
        s = (int32_t)be32(p + 1);
        r->p += 5;
    } else if (b == 0xD3 && left >= 9) {
        s = (int64_t)be64(p + 1);
        r->p += 9;
    } else {
        return 0;
    }
    *negative = s < 0;
    *value = (uint64_t)s;
    return 1;
}

static int read_field(Reader *r, const Field *field, Slot *slot) {
    switch (field->kind) {
    case KIND_STR:
        return read_str(r, &slot->ptr, &slot->len);
    case KIND_INT:
        return read_int(r, &slot->number, &slot->negative);
    case KIND_BOOL:
        if (r->p < r->end && (*r->p == 0xC2 || *r->p == 0xC3)) {
            slot->number = *r->p == 0xC3;
            r->p += 1;
            return 1;
        }
        return 0;
    case KIND_ENUM: {
        if (!read_int(r, &slot->number, &slot->negative)) {
            return 0;
        }
        int64_t value = (int64_t)slot->number;
        if (!slot->negative && slot->number > INT64_MAX) {
            return 0;
        }
        if (!slot->negative && slot->number < (uint64_t)field->by_value_count) {
            slot->name = field->by_value[slot->number];
            return slot->name != NULL;
        }
        for (Py_ssize_t i = 0; i < field->names_count; i++) {
            if (field->names[i].value == value) {
                slot->name = &field->names[i];
                return 1;
            }
        }
        return 0;
    }
    case KIND_STR_TUPLE: {
        Py_ssize_t count;
        if (!read_array(r, &count)) {
            return 0;
        }
        slot->ptr = r->p;
        slot->len = count;
        for (Py_ssize_t i = 0; i < count; i++) {
            const unsigned char *ptr;
            Py_ssize_t len;
            if (!read_str(r, &ptr, &len)) {
                return 0;
            }
        }
        slot->end = r->p;
        return 1;
    }
    }
    return 0;
}

/* --- JSON (byte for byte what msgspec.json writes) --------------------------------------- */

/* Most copies are short (field names, ids, the source): fixed-size moves the compiler inlines,
   overlapping at the end, instead of a call to memcpy each (15% of encode's time). Reads stay
   within [s, s + n). */
static inline char *write_raw(char *o, const char *s, Py_ssize_t n) {
    size_t size = (size_t)n;
    if (size >= 8 && size <= 16) {
        memcpy(o, s, 8);
        memcpy(o + size - 8, s + size - 8, 8);
    } else if (size > 16 && size <= 32) {
        memcpy(o, s, 16);
        memcpy(o + size - 16, s + size - 16, 16);
    } else if (size >= 4 && size < 8) {
        memcpy(o, s, 4);
        memcpy(o + size - 4, s + size - 4, 4);
    } else if (size < 4) {
        for (size_t i = 0; i < size; i++) {
            o[i] = s[i];
        }
    } else {
        memcpy(o, s, size);
    }
    return o + n;
}

static const char HEX[] = "0123456789abcdef";

/* msgspec escapes '"', '\\' and every byte below 0x20 (\b \t \n \f \r short, others \u00XX);
   everything else, 0x7f and non-ASCII included, is copied. */
static char *write_escaped(char *o, const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        o = write_raw(o, (const char *)s + start, i - start);
        start = i + 1;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 0xF];
        }
    }
    return write_raw(o, (const char *)s + start, n - start);
}

static char *write_string(char *o, const unsigned char *s, Py_ssize_t n) {
    *o++ = '"';
    o = write_escaped(o, s, n);
    *o++ = '"';
    return o;
}

static const char DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";

/* Digits two at a time, in 32-bit arithmetic where the value allows (seq and ts_ns have 19
   digits; the number writing was a fifth of encode's time). */
static char *write_u32(char *o, uint32_t value) {
    char digits[10];
    char *p = digits + sizeof(digits);
    while (value >= 100) {
        uint32_t pair = value % 100;
        value /= 100;
        p -= 2;
        memcpy(p, DIGIT_PAIRS + 2 * pair, 2);
    }
    if (value >= 10) {
        p -= 2;
        memcpy(p, DIGIT_PAIRS + 2 * value, 2);
    } else {
        *--p = (char)('0' + value);
    }
    size_t n = (size_t)(digits + sizeof(digits) - p);
    memcpy(o, p, n);
    return o + n;
}

static char *write_8_digits(char *o, uint32_t value) { /* exactly 8, zero-padded */
    for (int i = 3; i >= 0; i--) {
        memcpy(o + 2 * i, DIGIT_PAIRS + 2 * (value % 100), 2);
        value /= 100;
    }
    return o + 8;
}

static char *write_u64(char *o, uint64_t value) {
    if (value <= UINT32_MAX) {
        return write_u32(o, (uint32_t)value);
    }
    uint64_t high = value / 100000000;
    uint32_t low = (uint32_t)(value % 100000000);
    if (high <= UINT32_MAX) {
        o = write_u32(o, (uint32_t)high);
    } else {
        o = write_u32(o, (uint32_t)(high / 100000000));
        o = write_8_digits(o, (uint32_t)(high % 100000000));
    }
    return write_8_digits(o, low);
}

static char *write_int(char *o, uint64_t value, int negative) {
    if (negative) {
        *o++ = '-';
        return write_u64(o, (uint64_t)0 - value);
    }
    return write_u64(o, value);
}


#define WRITE_LITERAL(o, text) write_raw((o), (text), (Py_ssize_t)sizeof(text) - 1)

static char *write_field(char *o, const Field *field, const Slot *slot) {
    if (slot->missing) {
        return write_raw(o, field->default_json, field->default_len);
    }
    switch (field->kind) {
    case KIND_STR:
        return write_string(o, slot->ptr, slot->len);
    case KIND_INT:
        return write_int(o, slot->number, slot->negative);
    case KIND_BOOL:
        return slot->number ? WRITE_LITERAL(o, "true") : WRITE_LITERAL(o, "false");
    case KIND_ENUM:
        return write_raw(o, slot->name->json, slot->name->json_len);
    case KIND_STR_TUPLE: {
        Reader r = {slot->ptr, slot->end}; /* checked by read_field */
        *o++ = '[';
        for (Py_ssize_t i = 0; i < slot->len; i++) {
            const unsigned char *ptr;
            Py_ssize_t len;
            read_str(&r, &ptr, &len);
            if (i) {
                *o++ = ',';
            }
            o = write_string(o, ptr, len);
        }
        *o++ = ']';
        return o;
    }
    }
    return o;
}

static void two_digits(char *o, int value) {
    o[0] = (char)('0' + value / 10);
    o[1] = (char)('0' + value % 10);
}

/* "YYYY-MM-DDTHH:MM:SS." of `second` (UTC), cached for the last second seen. */
static int second_text(CodecObject *self, int64_t second) {
    if (second == self->second) {
        return 1;
    }
    time_t t = (time_t)second;
    struct tm parts;
    if (gmtime_r(&t, &parts) == NULL) {
        return 0;
    }
    int year = parts.tm_year + 1900;
    if (year < 1000 || year > 9999) {
        return 0;
    }
    char *o = self->second_text;
    two_digits(o, year / 100);
    two_digits(o + 2, year % 100);
    o[4] = '-';
    two_digits(o + 5, parts.tm_mon + 1);
    o[7] = '-';
    two_digits(o + 8, parts.tm_mday);
    o[10] = 'T';
    two_digits(o + 11, parts.tm_hour);
    o[13] = ':';
    two_digits(o + 14, parts.tm_min);
    o[16] = ':';
    two_digits(o + 17, parts.tm_sec);
    o[19] = '.';
    self->second = second;
    return 1;
}

static int ensure_out(CodecObject *self, Py_ssize_t size) {
    if (size <= self->out_cap) {
        return 0;
    }
    Py_ssize_t cap = self->out_cap ? self->out_cap : 4096;
    while (cap < size) {
        cap *= 2;
    }
    char *grown = PyMem_Realloc(self->out, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->out = grown;
    self->out_cap = cap;
    return 0;
}

typedef struct {
    PyObject *values; /* envelope JSON */
    PyObject *keys;
    PyObject *stamps; /* timestamp ms */
} Output;

static PyObject *timestamp_ms(CodecObject *self, int64_t ms) {
    if (self->last_ms_object == NULL || ms != self->last_ms) {
        PyObject *object = PyLong_FromLongLong(ms);
        if (object == NULL) {
            return NULL;
        }
        Py_XSETREF(self->last_ms_object, object);
        self->last_ms = ms;
    }
    Py_INCREF(self->last_ms_object);
    return self->last_ms_object;
}

static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) {
        return -1;
    }
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* Encode the record at `record` (verified). 1: appended to `out`; 0: not handled here (the
   reference path decides); -1: a Python error. */
static int encode_record(CodecObject *self, const unsigned char *record, const char *source,
                         Py_ssize_t source_len, const Output *out) {
    const Schema *schema = &self->schemas[record[3]];
    if (!schema->present || schema->python_only) {
        return 0;
    }
    Py_ssize_t payload_len = (Py_ssize_t)le32(record + 4);
    uint64_t seq = le64(record + 8);
    int64_t ts_ns = (int64_t)le64(record + 16);
    if (ts_ns < 0 || ts_ns / 1000000000 > SECONDS_MAX || seq == 0) {
        return 0;
    }
    /* decode the payload: one array, the Struct's fields in order */
    Reader r = {record + RECORD_HEADER_SIZE, record + RECORD_HEADER_SIZE + payload_len};
    Py_ssize_t count;
    if (!read_array(&r, &count) || count < schema->required_count ||
        count > schema->fields_count) {
        return 0;
    }
    Slot slots[FIELDS_MAX];
    for (Py_ssize_t i = 0; i < schema->fields_count; i++) {
        slots[i].missing = i >= count;
        if (i < count && !read_field(&r, &schema->fields[i], &slots[i])) {
            return 0;
        }
    }
    if (r.p != r.end) {
        return 0;
    }
    int64_t second = ts_ns / 1000000000;
    int64_t micros = ts_ns % 1000000000 / 1000;
    if (!second_text(self, second)) {
        return 0;
    }
    /* the envelope (outbox/envelope.py _Envelope) */
    Py_ssize_t bound = schema->static_len + 2 * source_len + 6 * payload_len;
    if (ensure_out(self, bound) < 0) {
        return -1;
    }
    char *o = self->out;
    o = WRITE_LITERAL(o, "{\"schemaVersion\":1,\"eventId\":\"");
    o = write_raw(o, source, source_len);
    *o++ = ':';
    char *seq_text = o;
    o = write_u64(o, seq);
    Py_ssize_t seq_len = o - seq_text;
    o = write_raw(o, schema->after_seq, schema->after_seq_len);
    o = write_raw(o, seq_text, seq_len);
    o = WRITE_LITERAL(o, ",\"occurredAt\":\"");
    o = write_raw(o, self->second_text, 20);
    two_digits(o, (int)(micros / 10000));
    two_digits(o + 2, (int)(micros / 100 % 100));
    two_digits(o + 4, (int)(micros % 100));
    o += 6;
    o = WRITE_LITERAL(o, "Z\",\"occurredAtNs\":");
    o = write_int(o, (uint64_t)ts_ns, 0);
    o = WRITE_LITERAL(o, ",\"source\":\"");
    o = write_raw(o, source, source_len);
    o = WRITE_LITERAL(o, "\",\"accountId\":");
    const Slot *account = schema->account_index >= 0 ? &slots[schema->account_index] : NULL;
    if (account != NULL && account->len > 0) { /* `account_id or None` */
        o = write_string(o, account->ptr, account->len);
    } else {
        o = WRITE_LITERAL(o, "null");
    }
    o = WRITE_LITERAL(o, ",\"orderId\":");
    if (schema->order_index >= 0) {
        o = write_string(o, slots[schema->order_index].ptr, slots[schema->order_index].len);
    } else {
        o = WRITE_LITERAL(o, "null");
    }
    o = WRITE_LITERAL(o, ",\"data\":{");
    for (Py_ssize_t i = 0; i < schema->fields_count; i++) {
        const Field *field = &schema->fields[i];
        if (field->prefix != NULL) {
            o = write_raw(o, field->prefix, field->prefix_len);
            o = write_field(o, field, &slots[i]);
        }
    }
    *o++ = '}';
    *o++ = '}';
    assert(o - self->out <= bound);
    /* value, key, timestamp ms: three lists (a tuple each cost an allocation and the GC) */
    const Slot *key = &slots[schema->key_index];
    if (append_new(out->values, PyBytes_FromStringAndSize(self->out, o - self->out)) < 0 ||
        append_new(out->keys, PyBytes_FromStringAndSize((const char *)key->ptr, key->len)) < 0 ||
        append_new(out->stamps, timestamp_ms(self, ts_ns / 1000000)) < 0) {
        return -1;
    }
    return 1;
}

static PyObject *Codec_encode(CodecObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "encode(body, pos, max_count, source)");
        return NULL;
    }
    PyObject *body = args[0], *source = args[3];
    if (!PyBytes_Check(body) || !PyBytes_Check(source)) {
        PyErr_SetString(PyExc_TypeError, "body and source must be bytes");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t max_count = PyLong_AsSsize_t(args[2]);
    if (max_count == -1 && PyErr_Occurred()) {
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(body);
    Py_ssize_t length = PyBytes_GET_SIZE(body);
    const char *source_text = PyBytes_AS_STRING(source);
    Py_ssize_t source_len = PyBytes_GET_SIZE(source);
    Output out = {PyList_New(0), PyList_New(0), PyList_New(0)};
    if (out.values == NULL || out.keys == NULL || out.stamps == NULL) {
        goto failed;
    }
    for (Py_ssize_t done = 0; done < max_count; done++) {
        /* The caller passes a body verify() accepted and a record boundary in it; the checks
           here only keep a wrong call from reading outside the buffer. */
        if (pos < 0 || length - pos < RECORD_OVERHEAD ||
            length - pos - RECORD_OVERHEAD < (Py_ssize_t)le32(data + pos + 4)) {
            PyErr_SetString(PyExc_ValueError, "encode: no record at this position");
            goto failed;
        }
        int status = encode_record(self, data + pos, source_text, source_len, &out);
        if (status < 0) {
            goto failed;
        }
        if (status == 0) {
            break;
        }
        pos += RECORD_OVERHEAD + (Py_ssize_t)le32(data + pos + 4);
    }
    return Py_BuildValue("(nNNN)", pos, out.values, out.keys, out.stamps);
failed:
    Py_XDECREF(out.values);
    Py_XDECREF(out.keys);
    Py_XDECREF(out.stamps);
    return NULL;
}

static PyMethodDef Codec_methods[] = {
    {"verify", (PyCFunction)(void (*)(void))Codec_verify, METH_FASTCALL,
     "verify(body, count, first_seq, prev_hash) -> bool: every check of wal/scan.py."},
    {"encode", (PyCFunction)(void (*)(void))Codec_encode, METH_FASTCALL,
     "encode(body, pos, max_count, source) -> (pos, values, keys, timestamps_ms)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CodecType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "switchyard.outbox._codec.Codec",
    .tp_basicsize = sizeof(CodecObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Codec(schemas, hmac_key): verify WAL batches, encode their envelopes.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Codec_init,
    .tp_dealloc = (destructor)Codec_dealloc,
    .tp_methods = Codec_methods,
};

static PyMethodDef module_methods[] = {
    {"crc32", (PyCFunction)codec_crc32, METH_O, "crc32(data) -> int: zlib.crc32, as verify does."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef codec_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "switchyard.outbox._codec",
    .m_doc = "The outbox's native batch codec (see outbox/native.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__codec(void) {
#ifdef CRC_FOLDING
    __builtin_cpu_init();
    crc_folding = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
    if (PyType_Ready(&CodecType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&codec_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&CodecType);
    if (PyModule_AddObject(module, "Codec", (PyObject *)&CodecType) < 0) {
        Py_DECREF(&CodecType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
