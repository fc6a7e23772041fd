/*
 * archive_dl: libarchive, loaded when an action first needs it (see
 * archive_dl.c).  Call sites say AR(archive_read_new)() instead of
 * archive_read_new(), after archive_dl_load() has succeeded.
 */
#ifndef KILN_ARCHIVE_DL_H
#define KILN_ARCHIVE_DL_H

#include <stddef.h>

#include <archive.h>
#include <archive_entry.h>

#define ARCHIVE_DL_FUNCS \
	X(archive_entry_filetype) X(archive_entry_free) \
	X(archive_entry_hardlink) X(archive_entry_new) \
	X(archive_entry_pathname) X(archive_entry_set_filetype) \
	X(archive_entry_set_hardlink) X(archive_entry_set_mtime) \
	X(archive_entry_set_pathname) X(archive_entry_set_perm) \
	X(archive_entry_set_size) X(archive_entry_size) \
	X(archive_error_string) X(archive_read_close) \
	X(archive_read_data_block) X(archive_read_disk_descend) \
	X(archive_read_disk_new) X(archive_read_disk_open) \
	X(archive_read_disk_set_standard_lookup) \
	X(archive_read_disk_set_symlink_physical) X(archive_read_free) \
	X(archive_read_new) X(archive_read_next_header) \
	X(archive_read_next_header2) X(archive_read_open_fd) \
	X(archive_read_open_filename) X(archive_read_support_filter_all) \
	X(archive_read_support_format_tar) \
	X(archive_read_support_format_zip) X(archive_write_add_filter_zstd) \
	X(archive_write_close) X(archive_write_data) \
	X(archive_write_data_block) X(archive_write_disk_new) \
	X(archive_write_disk_set_options) X(archive_write_finish_entry) \
	X(archive_write_free) X(archive_write_header) X(archive_write_new) \
	X(archive_write_open_fd) X(archive_write_set_format_option) \
	X(archive_write_set_format_pax_restricted) \
	X(archive_write_set_format_zip)

struct archive_dl {
#define X(name) __typeof__(name) *name;
	ARCHIVE_DL_FUNCS
#undef X
};

/* Load libarchive (once per process); 0, or -1 with err set. */
int	archive_dl_load(char *err, size_t errsz);

/* The loaded functions; only after archive_dl_load() returned 0. */
const struct archive_dl *archive_dl(void);

#define AR(name)	(archive_dl()->name)

#endif
