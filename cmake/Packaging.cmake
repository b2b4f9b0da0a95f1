# Install rules for the deployment files and the Debian package (CPack DEB generator).
#
# `cmake --install build` (prefix /usr for a system install) places:
#   <prefix>/bin/s3mount                      (src/cli/CMakeLists.txt)
#   ${S3MOUNT_SBINDIR}/mount.s3mount          fstab helper; mount(8) looks in /sbin
#   ${S3MOUNT_SYSTEMD_UNITDIR}/s3mount@.service
#   <prefix>/share/doc/s3mount/               DEPLOY.md and examples (mount.sh, fstab, unit conf)
# `cpack` in the build directory then writes s3mount_<version>_<arch>.deb.
include(GNUInstallDirs)

# Absolute on purpose: mount(8) only searches /sbin (/usr/sbin through the merged-/usr symlink) and
# systemd on Debian 12 reads packaged units from /lib/systemd/system. DESTDIR still applies.
set(S3MOUNT_SBINDIR "/sbin" CACHE PATH "Where the fstab helper mount.s3mount is installed")
set(S3MOUNT_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH "Where the systemd template unit is installed")
option(S3MOUNT_DEB_SHLIBDEPS
  "Compute the .deb's library dependencies with dpkg-shlibdeps (else a fixed Debian 12 list)" ON)

set(S3MOUNT_DOCDIR "${CMAKE_INSTALL_DATADIR}/doc/s3mount")

install(PROGRAMS deploy/mount.s3mount DESTINATION "${S3MOUNT_SBINDIR}")
install(FILES deploy/systemd/s3mount@.service DESTINATION "${S3MOUNT_SYSTEMD_UNITDIR}")
install(FILES docs/DEPLOY.md DESTINATION "${S3MOUNT_DOCDIR}")
install(PROGRAMS deploy/mount.sh DESTINATION "${S3MOUNT_DOCDIR}/examples")
install(FILES deploy/examples/fstab deploy/examples/mnt-data.conf
  DESTINATION "${S3MOUNT_DOCDIR}/examples")

# ---- CPack: Debian package ----
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "s3mount")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "s3mount maintainers <s3mount@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "FUSE file system that mounts an Amazon S3 bucket (or any S3 endpoint)")
set(CPACK_PACKAGE_DESCRIPTION "s3mount mounts an S3 bucket or prefix as a local directory through FUSE, \
for high-throughput sequential reads and writes. Ships the fstab helper mount.s3mount and the systemd \
template unit s3mount@.service.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")          # s3mount_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_STRIP_FILES ON)

# fuse3 provides fusermount3 (used by libfuse and by the unit's ExecStop); it is not a library
# dependency, so dpkg-shlibdeps cannot find it.
set(S3MOUNT_DEB_BASE_DEPENDS "fuse3")
# Debian 12 (bookworm) runtime packages of the libraries s3mount links, checked with `dpkg -S`.
set(S3MOUNT_DEB_BOOKWORM_DEPENDS
  "libfuse3-3, libcurl4, libssl3, libpugixml1v5, libspdlog1.10, libfmt9, libisal2, libmicrohttpd12, libc6, libstdc++6")
find_program(DPKG_SHLIBDEPS dpkg-shlibdeps)
if(S3MOUNT_DEB_SHLIBDEPS AND DPKG_SHLIBDEPS)
  # Right for whatever Debian/Ubuntu release the package is built on (library package names change
  # between releases, e.g. libcurl4t64 on Ubuntu 24.04).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${S3MOUNT_DEB_BASE_DEPENDS}")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${S3MOUNT_DEB_BASE_DEPENDS}, ${S3MOUNT_DEB_BOOKWORM_DEPENDS}")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/deploy/debian/postinst;${PROJECT_SOURCE_DIR}/deploy/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
