/* The card guard's first pass, compiled: where in a text could a card number be?
 *
 * security/cardguard.py judges card numbers with precise rules written in Python. Running them
 * over every stretch of digits in a large body is too slow (a 1 MiB form of prose full of
 * phone numbers and references holds thousands of such stretches), so this module looks
 * through the text at C speed, reading most of it not at all (see the search below), and
 * names only the stretches worth judging.
 *
 * candidates(text) -> list[int]: for each stretch of ASCII digits, spaces and dashes that
 * could hold a card number, the position of its first digit. "Could" is a loose superset of
 * the Python rules: some group of digits starts a window of 13 to 19 digits, made of that
 * group alone or, when the group has four digits (as printed numbers start), of whole groups
 * joined by single separators, whose first digit is 2 to 6 (every brand's) and whose Luhn sum
 * is valid. Everything finer (brand ranges and lengths, numbers glued to identifiers) stays
 * in Python. tests/security/test_cardguard_compiled.py checks that both searches report the same card
 * numbers; cardguard.py falls back to its own search where this module was not built.
 *
 * any_candidate(fields) -> bool: does any name or value of a form, (name, values) pairs as
 * QueryDict.lists() yields them, hold such a stretch? It reads each string where it is, and
 * stops at the first: a form's common case, nothing worth judging, costs no joined copy.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MIN_DIGITS 13
#define MAX_DIGITS 19

static int
luhn_ok(const char *digits, int count)
{
    int total = 0;
    for (int position = 0; position < count; position++) {
        int value = digits[count - 1 - position] - '0';
        if (position % 2) {
            value = value > 4 ? value * 2 - 9 : value * 2;
        }
        total += value;
    }
    return total % 10 == 0;
}

static int
plausible(const char *digits, int count)
{
    return digits[0] >= '2' && digits[0] <= '6' && luhn_ok(digits, count);
}

#define IS_DIGIT(c) ((Py_UCS4)((c) - '0') <= 9)
#define IS_SEPARATOR(c) ((c) == ' ' || (c) == '-')
#define IN_STRETCH(c) (IS_DIGIT(c) || IS_SEPARATOR(c))

/* One search per string kind (1, 2 or 4 bytes per character), so the loops read characters
 * directly. */
#define DEFINE_SEARCH(NAME, CHAR)                                                                \
    /* Does a card-number window start at `group`, the first digit of a group, within a   \
     * stretch ending at `end`? At most 19 digits are read: linear overall. */             \
    static int                                                                               \
    NAME##_window(const CHAR *text, Py_ssize_t group, Py_ssize_t end)                        \
    {                                                                                        \
        char digits[MAX_DIGITS];                                                             \
        int count = 0;                                                                       \
        Py_ssize_t i = group;                                                                \
        for (; i < end && IS_DIGIT(text[i]); i++) {                                          \
            if (count == MAX_DIGITS) {                                                       \
                return 0; /* a longer group is an id, and no window starts inside it */      \
            }                                                                                \
            digits[count++] = (char)text[i];                                                 \
        }                                                                                    \
        if (count >= MIN_DIGITS) {                                                           \
            return plausible(digits, count);                                                 \
        }                                                                                    \
        if (count != 4) {                                                                    \
            return 0;                                                                        \
        }                                                                                    \
        while (i + 1 < end && IS_SEPARATOR(text[i]) && IS_DIGIT(text[i + 1])) {              \
            for (i++; i < end && IS_DIGIT(text[i]); i++) {                                   \
                if (count == MAX_DIGITS) {                                                   \
                    return 0;                                                                \
                }                                                                            \
                digits[count++] = (char)text[i];                                             \
            }                                                                                \
            if (count >= MIN_DIGITS && plausible(digits, count)) {                           \
                return 1;                                                                    \
            }                                                                                \
        }                                                                                    \
        return 0;                                                                            \
    }                                                                                        \
                                                                                             \
    /* Stretches (runs of digits, spaces and dashes) of 13 characters or more are found by   \
     * probing every 13th character: where the probe is any other character, no such stretch \
     * touches the 13 characters up to it, and all of them are skipped unread. In prose most \
     * probes land on a letter. A stretch never begins before `i`: text[i - 1] is always     \
     * another character (or i is 0). Each stretch's position is appended to `found`; with   \
     * `found` NULL the search returns 1 at the first instead. -1 is an error. */            \
    static int                                                                               \
    NAME(const CHAR *text, Py_ssize_t length, PyObject *found)                               \
    {                                                                                        \
        Py_ssize_t i = 0;                                                                    \
        while (i + MIN_DIGITS <= length) {                                                   \
            Py_ssize_t probe = i + MIN_DIGITS - 1;                                           \
            if (!IN_STRETCH(text[probe])) {                                                  \
                i = probe + 1;                                                               \
                continue;                                                                    \
            }                                                                                \
            Py_ssize_t start = probe, end = probe + 1, digits = IS_DIGIT(text[probe]);       \
            while (start > i && IN_STRETCH(text[start - 1])) {                               \
                digits += IS_DIGIT(text[--start]);                                           \
            }                                                                                \
            for (; end < length && IN_STRETCH(text[end]); end++) {                           \
                digits += IS_DIGIT(text[end]);                                               \
            }                                                                                \
            i = end + 1; /* text[end] is another character, or the end */                    \
            if (digits < MIN_DIGITS) {                                                       \
                continue; /* e.g. "LG-20251234-0001": long, but 12 digits */                 \
            }                                                                                \
            while (!IS_DIGIT(text[start])) {                                                 \
                start++;                                                                     \
            }                                                                                \
            for (Py_ssize_t group = start; group < end; group++) {                           \
                if (!IS_DIGIT(text[group]) || (group > start && IS_DIGIT(text[group - 1]))) {\
                    continue;                                                                \
                }                                                                            \
                if (NAME##_window(text, group, end)) {                                       \
                    if (found == NULL) {                                                     \
                        return 1;                                                            \
                    }                                                                        \
                    PyObject *position = PyLong_FromSsize_t(start);                          \
                    int failed = position == NULL || PyList_Append(found, position) < 0;     \
                    Py_XDECREF(position);                                                    \
                    if (failed) {                                                            \
                        return -1;                                                           \
                    }                                                                        \
                    break;                                                                   \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        return 0;                                                                            \
    }                                                                                        \

DEFINE_SEARCH(search_ucs1, Py_UCS1)
DEFINE_SEARCH(search_ucs2, Py_UCS2)
DEFINE_SEARCH(search_ucs4, Py_UCS4)

static int
search(PyObject *text, PyObject *found)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    const void *data = PyUnicode_DATA(text);
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        return search_ucs1(data, length, found);
    case PyUnicode_2BYTE_KIND:
        return search_ucs2(data, length, found);
    default:
        return search_ucs4(data, length, found);
    }
}

static PyObject *
candidates(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "candidates() takes a str, not %.100s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    PyObject *found = PyList_New(0);
    if (found == NULL) {
        return NULL;
    }
    if (search(text, found) < 0) {
        Py_DECREF(found);
        return NULL;
    }
    return found;
}

/* 1 if a stretch worth judging is in `item`, or if `item` is no str (the caller's full search
 * then decides what it is); 0 if not; -1 on error. */
static int
item_may_hold(PyObject *item)
{
    return PyUnicode_Check(item) ? search(item, NULL) : 1;
}

/* 0, 1 or -1 as item_may_hold, for one (name, values) pair. Values come as a list or a
 * tuple; anything else (a bare str would be read a character at a time) answers 1. */
static int
pair_may_hold(PyObject *pair)
{
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        return 1;
    }
    int result = item_may_hold(PyTuple_GET_ITEM(pair, 0));
    PyObject *values = PyTuple_GET_ITEM(pair, 1);
    if (result != 0) {
        return result;
    }
    if (!PyList_Check(values) && !PyTuple_Check(values)) {
        return 1;
    }
    PyObject *each = PyObject_GetIter(values);
    if (each == NULL) {
        return -1;
    }
    PyObject *value;
    while (result == 0 && (value = PyIter_Next(each)) != NULL) {
        result = item_may_hold(value);
        Py_DECREF(value);
    }
    Py_DECREF(each);
    return result == 0 && PyErr_Occurred() ? -1 : result;
}

static PyObject *
any_candidate(PyObject *module, PyObject *fields)
{
    PyObject *pairs = PyObject_GetIter(fields);
    if (pairs == NULL) {
        return NULL;
    }
    int result = 0;
    PyObject *pair;
    while (result == 0 && (pair = PyIter_Next(pairs)) != NULL) {
        result = pair_may_hold(pair);
        Py_DECREF(pair);
    }
    Py_DECREF(pairs);
    if (result < 0 || (result == 0 && PyErr_Occurred())) {
        return NULL;
    }
    return PyBool_FromLong(result);
}

static PyMethodDef methods[] = {
    {"candidates", candidates, METH_O,
     "candidates(text) -> list of the first positions of the stretches of digits, spaces "
     "and dashes in text that could hold a card number."},
    {"any_candidate", any_candidate, METH_O,
     "any_candidate(fields) -> whether any name or value of the (name, values) pairs holds "
     "a stretch candidates() would name (True for one that is no str)."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "security._cardscan",
    .m_doc = "The card guard's first pass, compiled (see security/cardguard.py).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__cardscan(void)
{
    return PyModuleDef_Init(&module);
}
