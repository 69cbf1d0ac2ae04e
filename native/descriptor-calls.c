/*
 * System calls on descriptors that Node does not offer, for
 * src/carriers/descriptor-calls.ts: the extended attributes of an open file
 * (fgetxattr, fsetxattr with XATTR_CREATE / XATTR_REPLACE, fremovexattr), and
 * openat / fstatat in a folder held open (src/carriers/fs-path.ts), where
 * Node needs a /proc/PID/fd/N/NAME path and the kernel resolves that magic
 * link at every call; an fstat that fills five numbers instead of
 * building Node's Stats object; a folder's listing, sorted, with each
 * entry's type; and syncfs, which Node lacks (src/carriers/data-flush.ts).
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
 * number; set, remove, lstatAt and fstat return 0 or an errno; openAt returns the
 * descriptor or minus the errno; syncFilesystem calls back with 0 or an errno.
 * Bad arguments throw TypeError.
 */
/* syncfs is a GNU extension in glibc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
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

/* Reads `v` as a descriptor: a number, a non-negative int32. 0 when it is not one. */
static int descriptor_arg(napi_env env, napi_value v, int *fd) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_number && napi_get_value_int32(env, v, fd) == napi_ok && *fd >= 0;
}

/*
 * Reads args[0] as a descriptor and args[1] as an attribute name into
 * name[NAME_MAX_BYTES + 2]. -1 when they are not that (a TypeError), else 0,
 * or the errno for a name no call could take: ERANGE too long, EINVAL with a NUL.
 */
static int fd_and_name(napi_env env, napi_value *args, size_t argc, int *fd, char *name) {
  napi_valuetype t;
  size_t name_len;
  if (argc < 2 || !descriptor_arg(env, args[0], fd)) return -1;
  if (napi_typeof(env, args[1], &t) != napi_ok || t != napi_string) return -1;
  /* One byte more than the limit is read, so that a name that is too long is seen as such, not cut. */
  if (napi_get_value_string_utf8(env, args[1], name, NAME_MAX_BYTES + 2, &name_len) != napi_ok) return -1;
  if (name_len > NAME_MAX_BYTES) return ERANGE;
  if (strlen(name) != name_len) return EINVAL; /* an embedded NUL */
  return 0;
}

static napi_value get(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  int fd;
  char name[NAME_MAX_BYTES + 2];
  char small[SMALL_VALUE];
  napi_value result;
  void *copy;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int bad_name = fd_and_name(env, args, argc, &fd, name);
  if (bad_name < 0) return type_error(env, "get(fd, name)");
  if (bad_name) return number(env, bad_name);
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
  size_t value_len;
  void *value;
  bool is_buffer;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int bad_name = argc < 4 ? -1 : fd_and_name(env, args, argc, &fd, name);
  if (bad_name < 0) return type_error(env, "set(fd, name, value, flags)");
  if (napi_is_buffer(env, args[2], &is_buffer) != napi_ok || !is_buffer) return type_error(env, "set: value must be a Buffer");
  if (napi_get_buffer_info(env, args[2], &value, &value_len) != napi_ok) return NULL;
  if (napi_get_value_int32(env, args[3], &flags) != napi_ok) return type_error(env, "set: flags must be a number");
  if (bad_name) return number(env, bad_name);
  if (value_len > VALUE_MAX_BYTES) return number(env, E2BIG);
  return number(env, fsetxattr(fd, name, value, value_len, flags) == 0 ? 0 : errno);
}

static napi_value remove_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  int fd;
  char name[NAME_MAX_BYTES + 2];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int bad_name = fd_and_name(env, args, argc, &fd, name);
  if (bad_name < 0) return type_error(env, "remove(fd, name)");
  if (bad_name) return number(env, bad_name);
  return number(env, fremovexattr(fd, name) == 0 ? 0 : errno);
}

#define NAME_BYTES 4096
/*
 * As fd_and_name, for a folder's descriptor and a name, into name[NAME_BYTES]:
 * the name's bytes as a Buffer, or a string taken as UTF-8 (the caller passes
 * a string only when it is plain text: a name carrying raw bytes as lone
 * surrogates would not survive UTF-8). EINVAL for an empty name, one with a
 * NUL or too long.
 */
static int dirfd_and_name(napi_env env, napi_value *args, int *dirfd, char *name) {
  napi_valuetype t;
  bool is_buffer;
  void *data;
  size_t len;
  if (!descriptor_arg(env, args[0], dirfd)) return -1;
  if (napi_typeof(env, args[1], &t) == napi_ok && t == napi_string) {
    /* The whole length first: a name is never cut short. */
    if (napi_get_value_string_utf8(env, args[1], NULL, 0, &len) != napi_ok) return -1;
    if (len == 0 || len >= NAME_BYTES) return EINVAL;
    if (napi_get_value_string_utf8(env, args[1], name, NAME_BYTES, &len) != napi_ok) return -1;
    return memchr(name, 0, len) ? EINVAL : 0;
  }
  if (napi_is_buffer(env, args[1], &is_buffer) != napi_ok || !is_buffer) return -1;
  if (napi_get_buffer_info(env, args[1], &data, &len) != napi_ok) return -1;
  if (len == 0 || len >= NAME_BYTES || memchr(data, 0, len)) return EINVAL;
  memcpy(name, data, len);
  name[len] = 0;
  return 0;
}

/* The Float64Array of at least `need` elements in `v`, or NULL. */
static double *out_array(napi_env env, napi_value v, size_t need) {
  bool is_typed;
  napi_typedarray_type type;
  size_t length;
  void *out;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return NULL;
  if (napi_get_typedarray_info(env, v, &type, &length, &out, NULL, NULL) != napi_ok || type != napi_float64_array || length < need) return NULL;
  return (double *)out;
}

/* st's five facts into out: st_dev, st_ino, st_mode, st_size and the mtime in milliseconds (as Node's mtimeMs). */
static void fill_facts(double *out, const struct stat *st) {
  out[0] = (double)st->st_dev;
  out[1] = (double)st->st_ino;
  out[2] = (double)st->st_mode;
  out[3] = (double)st->st_size;
  out[4] = (double)st->st_mtim.tv_sec * 1e3 + (double)st->st_mtim.tv_nsec / 1e6;
}

/*
 * openat(dirfd, name, flags | O_CLOEXEC) and fstat of the result into st: the
 * descriptor, or minus the errno with nothing left open; *failed_call (when
 * given) says which call failed: 0 openat, 1 fstat.
 */
static int open_and_stat(int dirfd, const char *name, int flags, struct stat *st, int *failed_call) {
  int fd = openat(dirfd, name, flags | O_CLOEXEC);
  if (fd < 0) return -errno;
  if (fstat(fd, st) != 0) {
    int saved = errno;
    close(fd);
    if (failed_call) *failed_call = 1;
    return -saved;
  }
  return fd;
}

/*
 * openat(dirfd, name, flags[, facts]): a file in a folder we hold open,
 * without the /proc/PID/fd/N/NAME path Node would need (a magic-link
 * resolution per call). With facts (a Float64Array of 5), also its fstat, as
 * fstat() below: one call where a tree run made two per file. Returns the
 * descriptor, or minus the errno (of the open or the fstat; nothing is left
 * open then).
 */
static napi_value open_at(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  int dirfd, flags;
  char name[NAME_BYTES];
  double *facts = NULL;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) return type_error(env, "openAt(dirfd, name, flags[, facts])");
  int bad_name = dirfd_and_name(env, args, &dirfd, name);
  if (bad_name < 0 || napi_get_value_int32(env, args[2], &flags) != napi_ok) return type_error(env, "openAt(dirfd, name, flags[, facts])");
  if (argc >= 4 && napi_typeof(env, args[3], &t) == napi_ok && t != napi_undefined && (facts = out_array(env, args[3], 5)) == NULL)
    return type_error(env, "openAt(dirfd, name, flags, facts): facts must be a Float64Array of 5");
  if (bad_name) return number(env, -bad_name);
  if (!facts) {
    int fd = openat(dirfd, name, flags | O_CLOEXEC);
    return number(env, fd >= 0 ? fd : -errno);
  }
  struct stat st;
  int fd = open_and_stat(dirfd, name, flags, &st, NULL);
  if (fd >= 0) fill_facts(facts, &st);
  return number(env, fd);
}

/*
 * readAt(dirfd, name, flags, buffer, facts): opens the file as openAt with
 * facts, and when it is a regular file smaller than the buffer reads it whole
 * into the buffer (up to the size fstat gave), then closes it. Returns the
 * bytes read (0, nothing read, when facts show another kind of file or one too
 * large: the caller tells which), or minus the errno, and then facts[5] says
 * which call failed: 0 openat, 1 fstat, 2 read. facts is a Float64Array of 6.
 * A sidecar in one call instead of four.
 */
static napi_value read_at(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  int dirfd, flags;
  char name[NAME_BYTES];
  double *facts;
  bool is_buffer;
  void *buf;
  size_t buf_len;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) return type_error(env, "readAt(dirfd, name, flags, buffer, facts)");
  int bad_name = dirfd_and_name(env, args, &dirfd, name);
  if (bad_name < 0 || napi_get_value_int32(env, args[2], &flags) != napi_ok || napi_is_buffer(env, args[3], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, args[3], &buf, &buf_len) != napi_ok || (facts = out_array(env, args[4], 6)) == NULL)
    return type_error(env, "readAt(dirfd, name, flags, buffer, facts): a Buffer and a Float64Array of 6");
  facts[5] = 0;
  if (bad_name) return number(env, -bad_name);
  struct stat st;
  int failed_call = 0;
  int fd = open_and_stat(dirfd, name, flags, &st, &failed_call);
  if (fd < 0) {
    facts[5] = failed_call;
    return number(env, fd);
  }
  fill_facts(facts, &st);
  size_t total = 0;
  if (S_ISREG(st.st_mode) && (size_t)st.st_size < buf_len) {
    size_t want = (size_t)st.st_size;
    /* Up to the size fstat gave: a file that grows meanwhile is read as it was; one that shrinks ends at EOF. */
    while (total < want) {
      ssize_t n = read(fd, (char *)buf + total, want - total);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int saved = errno;
        close(fd);
        facts[5] = 2;
        return number(env, -saved);
      }
      if (n == 0) break;
      total += (size_t)n;
    }
  }
  close(fd);
  return number(env, (int)total);
}

/* lstatAt(dirfd, name, out): fstatat without following a symlink; out (a Float64Array of 2) gets st_dev and st_ino. 0 or an errno. */
static napi_value lstat_at(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  int dirfd;
  char name[NAME_BYTES];
  struct stat st;
  double *out;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) return type_error(env, "lstatAt(dirfd, name, out)");
  int bad_name = dirfd_and_name(env, args, &dirfd, name);
  if (bad_name < 0 || (out = out_array(env, args[2], 2)) == NULL) return type_error(env, "lstatAt(dirfd, name, out): out must be a Float64Array of 2");
  if (bad_name) return number(env, bad_name);
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return number(env, errno);
  out[0] = (double)st.st_dev;
  out[1] = (double)st.st_ino;
  return number(env, 0);
}

/*
 * fstat(fd, out): out (a Float64Array of 5) gets st_dev, st_ino, st_mode,
 * st_size and the mtime in milliseconds (as Node's mtimeMs). 0 or an errno.
 * The five facts a file's checks use, without the Stats object (and its four
 * Dates) Node builds for every fstat.
 */
static napi_value fstat_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  int fd;
  struct stat st;
  double *out;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || !descriptor_arg(env, args[0], &fd) || (out = out_array(env, args[1], 5)) == NULL) return type_error(env, "fstat(fd, out): out must be a Float64Array of 5");
  if (fstat(fd, &st) != 0) return number(env, errno);
  fill_facts(out, &st);
  return number(env, 0);
}

/*
 * close(fd) of a descriptor openAt gave: Node's own close would warn in a
 * worker thread, where Node tracks the descriptors its fs opened. 0 or an errno.
 */
static napi_value close_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int fd;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || !descriptor_arg(env, args[0], &fd)) return type_error(env, "close(fd)");
  return number(env, close(fd) == 0 ? 0 : errno);
}

/*
 * syncfs(fd) on the thread pool: writes back every dirty page and inode of the
 * filesystem holding fd and flushes the device's cache once. callback(errno)
 * runs on the main thread, 0 on success. The caller keeps fd open until then.
 */
struct sync_job {
  napi_async_work work;
  napi_ref callback;
  int fd;
  int error;
};

static void sync_execute(napi_env env, void *data) {
  (void)env;
  struct sync_job *job = data;
  job->error = syncfs(job->fd) == 0 ? 0 : errno;
}

static void sync_complete(napi_env env, napi_status status, void *data) {
  struct sync_job *job = data;
  napi_value callback, global, arg;
  if (napi_get_reference_value(env, job->callback, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok) {
    arg = number(env, status == napi_ok ? job->error : EIO);
    napi_call_function(env, global, callback, 1, &arg, NULL);
  }
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value sync_filesystem(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2], name;
  napi_valuetype t;
  int fd;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || !descriptor_arg(env, args[0], &fd) || napi_typeof(env, args[1], &t) != napi_ok || t != napi_function) return type_error(env, "syncFilesystem(fd, callback)");
  struct sync_job *job = calloc(1, sizeof *job);
  if (!job) return number(env, ENOMEM);
  job->fd = fd;
  if (napi_create_reference(env, args[1], 1, &job->callback) != napi_ok || napi_create_string_utf8(env, "syncfs", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, sync_execute, sync_complete, job, &job->work) != napi_ok) {
    if (job->callback) napi_delete_reference(env, job->callback);
    free(job);
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    napi_delete_reference(env, job->callback);
    free(job);
    return NULL;
  }
  return number(env, 0);
}

/* Length of the well-formed UTF-8 sequence at s[i] (Unicode table 3-7), 0 when there is none. */
static size_t utf8_sequence(const unsigned char *s, size_t i, size_t len) {
  unsigned char c = s[i];
#define CONT(k, lo, hi) (i + (k) < len && s[i + (k)] >= (lo) && s[i + (k)] <= (hi))
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return CONT(1, 0x80, 0xbf) ? 2 : 0;
  if (c == 0xe0) return CONT(1, 0xa0, 0xbf) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return CONT(1, 0x80, 0xbf) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xed) return CONT(1, 0x80, 0x9f) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xf0) return CONT(1, 0x90, 0xbf) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return CONT(1, 0x80, 0xbf) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
  if (c == 0xf4) return CONT(1, 0x80, 0x8f) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
#undef CONT
  return 0;
}

static int valid_utf8(const char *name, size_t len) {
  const unsigned char *s = (const unsigned char *)name;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence(s, i, len);
    if (n == 0) return 0;
    i += n;
  }
  return 1;
}

struct entry {
  char *name;
  unsigned char type;
};

/* Byte order of names (as Buffer.compare): the walk's order is the same on every machine. */
static int by_name(const void *a, const void *b) {
  return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static unsigned char type_of_mode(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    default: return DT_UNKNOWN;
  }
}

static void free_entries(struct entry *entries, size_t n) {
  for (size_t i = 0; i < n; i++) free(entries[i].name);
  free(entries);
}

/*
 * listDir(dirfd): the names in the folder open as dirfd, without "." and
 * "..", sorted by their bytes, each a string when it is valid UTF-8, else a
 * Buffer of its bytes (the caller decodes it losslessly, fs-path.ts); and a
 * Buffer of their types, one byte each (DT_REG, DT_DIR, DT_LNK...; an entry
 * the filesystem gives no type for is lstat'ed, and one gone meanwhile stays
 * DT_UNKNOWN). Returns [names, types], or an errno. The folder is read
 * through its own open of ".", so the held descriptor's offset never moves.
 * One call instead of Node's Dirent and Buffer per entry, a JavaScript sort
 * and a decode per name.
 */
static napi_value list_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int dirfd;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || !descriptor_arg(env, args[0], &dirfd)) return type_error(env, "listDir(dirfd)");
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return number(env, errno);
  DIR *dir = fdopendir(fd);
  if (!dir) {
    int saved = errno;
    close(fd);
    return number(env, saved);
  }
  size_t n = 0, cap = 64;
  struct entry *entries = malloc(cap * sizeof *entries);
  if (!entries) {
    closedir(dir);
    return number(env, ENOMEM);
  }
  for (;;) {
    errno = 0;
    struct dirent *d = readdir(dir);
    if (!d) {
      if (errno != 0) {
        int saved = errno;
        closedir(dir);
        free_entries(entries, n);
        return number(env, saved);
      }
      break;
    }
    if (d->d_name[0] == '.' && (d->d_name[1] == 0 || (d->d_name[1] == '.' && d->d_name[2] == 0))) continue;
    if (n == cap) {
      struct entry *grown = realloc(entries, 2 * cap * sizeof *entries);
      if (!grown) {
        closedir(dir);
        free_entries(entries, n);
        return number(env, ENOMEM);
      }
      entries = grown;
      cap *= 2;
    }
    entries[n].name = strdup(d->d_name);
    if (!entries[n].name) {
      closedir(dir);
      free_entries(entries, n);
      return number(env, ENOMEM);
    }
    unsigned char type = d->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) type = type_of_mode(st.st_mode);
    }
    entries[n++].type = type;
  }
  closedir(dir);
  qsort(entries, n, sizeof *entries, by_name);
  napi_value names, types, result;
  void *types_data;
  if (napi_create_array_with_length(env, n, &names) != napi_ok || napi_create_buffer(env, n, &types_data, &types) != napi_ok) {
    free_entries(entries, n);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(entries[i].name);
    napi_value v;
    void *copy;
    napi_status s = valid_utf8(entries[i].name, len) ? napi_create_string_utf8(env, entries[i].name, len, &v)
                                                    : napi_create_buffer_copy(env, len, entries[i].name, &copy, &v);
    if (s != napi_ok || napi_set_element(env, names, (uint32_t)i, v) != napi_ok) {
      free_entries(entries, n);
      return NULL;
    }
    ((unsigned char *)types_data)[i] = entries[i].type;
  }
  free_entries(entries, n);
  if (napi_create_array_with_length(env, 2, &result) != napi_ok || napi_set_element(env, result, 0, names) != napi_ok || napi_set_element(env, result, 1, types) != napi_ok) return NULL;
  return result;
}

/* Context-aware (NAPI_MODULE_INIT): worker threads load it too. */
NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "get", NULL, get, NULL, NULL, NULL, napi_enumerable, NULL },
    { "set", NULL, set, NULL, NULL, NULL, napi_enumerable, NULL },
    { "remove", NULL, remove_, NULL, NULL, NULL, napi_enumerable, NULL },
    { "openAt", NULL, open_at, NULL, NULL, NULL, napi_enumerable, NULL },
    { "lstatAt", NULL, lstat_at, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, close_, NULL, NULL, NULL, napi_enumerable, NULL },
    { "fstat", NULL, fstat_, NULL, NULL, NULL, napi_enumerable, NULL },
    { "listDir", NULL, list_dir, NULL, NULL, NULL, napi_enumerable, NULL },
    { "readAt", NULL, read_at, NULL, NULL, NULL, napi_enumerable, NULL },
    { "syncFilesystem", NULL, sync_filesystem, NULL, NULL, NULL, napi_enumerable, NULL },
    { "XATTR_CREATE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL },
    { "XATTR_REPLACE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  props[10].value = number(env, XATTR_CREATE);
  props[11].value = number(env, XATTR_REPLACE);
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
