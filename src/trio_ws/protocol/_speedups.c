/*
 * Optional C accelerator for trio_ws: WebSocket masking (RFC 6455, section 5.3).
 *
 * mask(data, key, /) -> bytes XORs every byte of ``data`` with ``key[i % 4]``. Masking and
 * unmasking are the same operation. ``data`` is any object exposing the buffer protocol
 * (bytes, bytearray, memoryview, array.array, mmap, ...); contiguous buffers are read in place,
 * others are first gathered into the result. ``key`` must be exactly 4 bytes.
 *
 * The loop XORs 8 bytes at a time; loads and stores go through memcpy, so there is no
 * unaligned access or type punning (compilers turn each memcpy into a single move). The GIL
 * is released for payloads of at least 64 KiB, where the work outweighs the switch.
 *
 * The pure Python fallback is trio_ws.protocol._mask.mask_python; both must agree byte for
 * byte (tests/protocol/test_mask.py checks it).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* Payloads at least this long are masked without holding the GIL. */
#define RELEASE_GIL_THRESHOLD ((Py_ssize_t)65536)

/*
 * XOR ``len`` bytes of ``src`` with the repeating 4-byte ``key`` into ``dst``.
 * ``src`` and ``dst`` may be the same pointer (in-place masking), but must not otherwise
 * overlap. The key phase starts at 0.
 */
static void
xor_mask(const unsigned char *src, unsigned char *dst, size_t len, const unsigned char key[4])
{
    unsigned char key8[8];
    uint64_t k64, a, b, c, d;
    size_t i = 0;

    memcpy(key8, key, 4);
    memcpy(key8 + 4, key, 4);
    /* Byte order does not matter: the mask word has the key bytes in memory order, just
       like the data words it is XORed with. */
    memcpy(&k64, key8, 8);

    for (; len - i >= 32; i += 32) {
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= k64;
        b ^= k64;
        c ^= k64;
        d ^= k64;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; len - i >= 8; i += 8) {
        memcpy(&a, src + i, 8);
        a ^= k64;
        memcpy(dst + i, &a, 8);
    }
    /* i is a multiple of 8 here, so the key phase is i % 4 as for every other byte. */
    for (; i < len; i++) {
        dst[i] = (unsigned char)(src[i] ^ key[i & 3]);
    }
}

PyDoc_STRVAR(mask_doc,
"mask($module, data, key, /)\n"
"--\n"
"\n"
"Mask or unmask a WebSocket payload (RFC 6455, section 5.3).\n"
"\n"
"Args:\n"
"    data: The payload, any bytes-like object.\n"
"    key: The masking key, exactly 4 bytes.\n"
"\n"
"Returns:\n"
"    A new bytes object: data XORed with the key repeated over its length.\n"
"\n"
"Raises:\n"
"    ValueError: If key is not exactly 4 bytes long.\n"
"    TypeError: If data or key does not support the buffer protocol.");

static PyObject *
speedups_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data_view;
    Py_buffer key_view;
    unsigned char key[4];
    PyObject *result = NULL;
    unsigned char *out;
    const unsigned char *src;
    Py_ssize_t len;
    int contiguous = 1;

    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "mask() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }

    if (PyObject_GetBuffer(args[1], &key_view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (key_view.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask key must be exactly 4 bytes, got %zd",
                     key_view.len);
        PyBuffer_Release(&key_view);
        return NULL;
    }
    memcpy(key, key_view.buf, 4);
    PyBuffer_Release(&key_view);

    if (PyObject_GetBuffer(args[0], &data_view, PyBUF_SIMPLE) < 0) {
        /* Not C-contiguous (e.g. a strided memoryview): gather it into the result first. */
        if (!PyErr_ExceptionMatches(PyExc_BufferError)) {
            return NULL;
        }
        PyErr_Clear();
        if (PyObject_GetBuffer(args[0], &data_view, PyBUF_FULL_RO) < 0) {
            return NULL;
        }
        contiguous = 0;
    }

    len = data_view.len;
    result = PyBytes_FromStringAndSize(NULL, len);
    if (result == NULL) {
        goto done;
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    if (contiguous) {
        src = (const unsigned char *)data_view.buf;
    }
    else {
        if (PyBuffer_ToContiguous(out, &data_view, len, 'C') < 0) {
            Py_CLEAR(result);
            goto done;
        }
        src = out;
    }

    if (len >= RELEASE_GIL_THRESHOLD) {
        /* The buffer export pins data's memory (a bytearray cannot resize while exported)
           and result is not shared yet, so no Python object changes under us. */
        Py_BEGIN_ALLOW_THREADS
        xor_mask(src, out, (size_t)len, key);
        Py_END_ALLOW_THREADS
    }
    else {
        xor_mask(src, out, (size_t)len, key);
    }

done:
    PyBuffer_Release(&data_view);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"mask", (PyCFunction)(void (*)(void))speedups_mask, METH_FASTCALL, mask_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(module_doc, "C accelerator for WebSocket masking; see trio_ws.protocol._mask.");

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "trio_ws.protocol._speedups",
    .m_doc = module_doc,
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
