/*
 * Extended attributes of an open descriptor: fgetxattr, fsetxattr (with
 * XATTR_CREATE / XATTR_REPLACE) and fremovexattr, for src/carriers/xattr.ts.
 *
 * Why our own: fs-xattr, the library we otherwise use, works only on paths
 * (and follows symlinks) and takes no flags. Through a descriptor the call
 * reaches the inode we opened and checked, with no /proc/PID/fd magic link to
 * resolve (that resolution was most of each call's cost), and XATTR_CREATE
 * lets a write refuse atomically to replace a value that appeared after we
 * looked.
 *
 * Errors are returned, not thrown: a missing attribute (ENODATA) and an
 * existing one (EEXIST) are ordinary answers in a tree run, and an exception
 * per file costs more than the system call. get returns a Buffer or an errno
 * number; set and remove return 0 or an errno. Bad arguments throw TypeError.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <node_api.h>

/* Linux limits: XATTR_NAME_MAX 255, XATTR_SIZE_MAX 65536 (include/uapi/linux/limits.h). */
#define NAME_MAX_BYTES 255
#define VALUE_MAX_BYTES 65536
/* Enough for any IMA value this tool writes (an RSA-4096 signature is 521 bytes); larger values take a second call. */
#define SMALL_VALUE 2048

static napi_value number(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

static napi_value type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* Reads args[0] as a descriptor and args[1] as an attribute name into name[NAME_MAX_BYTES + 2]; 0 when they are not. */
static int fd_and_name(napi_env env, napi_value *args, size_t argc, int *fd, char *name, size_t *name_len) {
  napi_valuetype t;
  if (argc < 2) return 0;
  if (napi_typeof(env, args[0], &t) != napi_ok || t != napi_number) return 0;
  if (napi_get_value_int32(env, args[0], fd) != napi_ok || *fd < 0) return 0;
  if (napi_typeof(env, args[1], &t) != napi_ok || t != napi_string) return 0;
  /* One byte more than the limit is read, so that a name that is too long is seen as such, not cut. */
  if (napi_get_value_string_utf8(env, args[1], name, NAME_MAX_BYTES + 2, name_len) != napi_ok) return 0;
  return 1;
}

static napi_value get(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  int fd;
  char name[NAME_MAX_BYTES + 2];
  size_t name_len;
  char small[SMALL_VALUE];
  napi_value result;
  void *copy;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (!fd_and_name(env, args, argc, &fd, name, &name_len)) return type_error(env, "get(fd, name)");
  if (name_len > NAME_MAX_BYTES) return number(env, ERANGE);
  if (strlen(name) != name_len) return number(env, EINVAL); /* an embedded NUL */
  ssize_t n = fgetxattr(fd, name, small, sizeof small);
  if (n >= 0) {
    if (napi_create_buffer_copy(env, (size_t)n, small, &copy, &result) != napi_ok) return NULL;
    return result;
  }
  if (errno != ERANGE) return number(env, errno);
  /* Larger than SMALL_VALUE: read into the largest buffer a value can need. */
  char *big = malloc(VALUE_MAX_BYTES);
  if (!big) return number(env, ENOMEM);
  n = fgetxattr(fd, name, big, VALUE_MAX_BYTES);
  int saved = errno;
  if (n < 0) {
    free(big);
    return number(env, saved);
  }
  napi_status s = napi_create_buffer_copy(env, (size_t)n, big, &copy, &result);
  free(big);
  return s == napi_ok ? result : NULL;
}

static napi_value set(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  int fd, flags;
  char name[NAME_MAX_BYTES + 2];
  size_t name_len, value_len;
  void *value;
  bool is_buffer;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4 || !fd_and_name(env, args, argc, &fd, name, &name_len)) return type_error(env, "set(fd, name, value, flags)");
  if (napi_is_buffer(env, args[2], &is_buffer) != napi_ok || !is_buffer) return type_error(env, "set: value must be a Buffer");
  if (napi_get_buffer_info(env, args[2], &value, &value_len) != napi_ok) return NULL;
  if (napi_get_value_int32(env, args[3], &flags) != napi_ok) return type_error(env, "set: flags must be a number");
  if (name_len > NAME_MAX_BYTES) return number(env, ERANGE);
  if (strlen(name) != name_len) return number(env, EINVAL); /* an embedded NUL */
  if (value_len > VALUE_MAX_BYTES) return number(env, E2BIG);
  return number(env, fsetxattr(fd, name, value, value_len, flags) == 0 ? 0 : errno);
}

static napi_value remove_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  int fd;
  char name[NAME_MAX_BYTES + 2];
  size_t name_len;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (!fd_and_name(env, args, argc, &fd, name, &name_len)) return type_error(env, "remove(fd, name)");
  if (name_len > NAME_MAX_BYTES) return number(env, ERANGE);
  if (strlen(name) != name_len) return number(env, EINVAL); /* an embedded NUL */
  return number(env, fremovexattr(fd, name) == 0 ? 0 : errno);
}

/* Context-aware (NAPI_MODULE_INIT): worker threads load it too. */
NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "get", NULL, get, NULL, NULL, NULL, napi_enumerable, NULL },
    { "set", NULL, set, NULL, NULL, NULL, napi_enumerable, NULL },
    { "remove", NULL, remove_, NULL, NULL, NULL, napi_enumerable, NULL },
    { "XATTR_CREATE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL },
    { "XATTR_REPLACE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  props[3].value = number(env, XATTR_CREATE);
  props[4].value = number(env, XATTR_REPLACE);
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
