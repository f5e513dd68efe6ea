# The berth Debian package: install() rules and CPack's DEB generator. Building the package is a
# separate step (`cpack -G DEB` in the build dir); the normal build does none of it.
#
# cpack installs through the "preinstall" target, which by default first builds everything, tests
# and benchmarks included. Packaging (and `make install`) take the binaries as built instead:
# build first (scripts/build), then package.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# Layout: all five binaries in /usr/bin. berthd and berth-csi are daemons and could live in
# /usr/sbin, but they find berth-nfs-fuse beside their own executable first, and operators run
# berth-flex and berth-nfs-fuse by hand as often as berthctl.

install(TARGETS berthd berthctl berth-flex berth-csi berth-nfs-fuse RUNTIME DESTINATION bin)
# berth-flex execs it for every FlexVolume call but init; nobody runs it by hand.
install(TARGETS berth-flex-driver RUNTIME DESTINATION libexec/berth)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/berthd.service
        DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/deb/berth.json DESTINATION /etc/berth)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/operations.md
              ${CMAKE_SOURCE_DIR}/docs/user-guide.md ${CMAKE_SOURCE_DIR}/docs/kubernetes.md
              ${CMAKE_SOURCE_DIR}/docs/architecture.md
        DESTINATION share/doc/berth)
# The FlexVolume installer, for nodes that take berth-flex from the package:
# /usr/lib/berth/kubernetes/install.sh --from /usr/bin
install(PROGRAMS ${CMAKE_SOURCE_DIR}/packaging/kubernetes/install.sh
        DESTINATION lib/berth/kubernetes)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/kubernetes/daemonset.yaml
              ${CMAKE_SOURCE_DIR}/packaging/kubernetes/Dockerfile
        DESTINATION lib/berth/kubernetes)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/packaging/kubernetes/example
        DESTINATION lib/berth/kubernetes)
# The licence, machine-readable (Debian's copyright format), and a changelog made from the version
# with the date of the last commit (so a rebuild of one commit gives the same package).
install(FILES ${CMAKE_SOURCE_DIR}/packaging/deb/copyright DESTINATION share/doc/berth)
execute_process(COMMAND git -C ${CMAKE_SOURCE_DIR} log -1 --format=%ct
                OUTPUT_VARIABLE BERTH_SOURCE_EPOCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT BERTH_SOURCE_EPOCH)
  string(TIMESTAMP BERTH_SOURCE_EPOCH "%s" UTC)
endif()
# Who answers for the package (its Maintainer field and changelog entry): the packager, as Debian's
# tools find them (DEBFULLNAME and DEBEMAIL, as dch reads them), else the author of the commit
# being packaged. -DBERTH_PACKAGE_MAINTAINER="Name <address>" overrides both.
if(DEFINED ENV{DEBEMAIL} AND NOT "$ENV{DEBEMAIL}" STREQUAL "")
  set(berth_default_maintainer "$ENV{DEBFULLNAME} <$ENV{DEBEMAIL}>")
else()
  execute_process(COMMAND git -C ${CMAKE_SOURCE_DIR} log -1 "--format=%an <%ae>"
                  OUTPUT_VARIABLE berth_default_maintainer OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
# Empty (the default) means: found as above, on every configure, so a new commit's author counts.
set(BERTH_PACKAGE_MAINTAINER ""
    CACHE STRING "the Debian package's Maintainer: Name <address> (empty: DEBEMAIL or git author)")
if(BERTH_PACKAGE_MAINTAINER STREQUAL "")
  set(BERTH_PACKAGE_MAINTAINER "${berth_default_maintainer}")
endif()
if(NOT BERTH_PACKAGE_MAINTAINER MATCHES "^[^<>]+ <[^<>@ ]+@[^<>@ ]+>$")
  # A source tree without git and without DEBEMAIL: the build goes on, the package says so.
  message(WARNING "BERTH_PACKAGE_MAINTAINER '${BERTH_PACKAGE_MAINTAINER}' is not 'Name <address>';"
                  " set it, or DEBFULLNAME and DEBEMAIL, before building a package")
endif()
install(CODE "
  set(doc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/doc/berth\")
  file(MAKE_DIRECTORY \"\${doc}\")
  execute_process(COMMAND date -u -R -d @${BERTH_SOURCE_EPOCH} OUTPUT_VARIABLE date
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  file(WRITE \"\${doc}/changelog\" \"berth (${PROJECT_VERSION}) unstable; urgency=medium

  * berth ${PROJECT_VERSION}: see /usr/share/doc/berth/README.md.

 -- ${BERTH_PACKAGE_MAINTAINER}  \${date}
\")
  execute_process(COMMAND gzip -9nf \"\${doc}/changelog\" COMMAND_ERROR_IS_FATAL ANY)
")
# Man pages from the programs' own --help (help2man) and berth.json(5), at packaging time.
install(CODE "
  execute_process(COMMAND ${CMAKE_SOURCE_DIR}/packaging/man/make-pages.sh
                          \"$<TARGET_FILE_DIR:berthd>\"
                          \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/man\"
                          ${PROJECT_VERSION} ${CMAKE_SOURCE_DIR}
                  COMMAND_ERROR_IS_FATAL ANY)
")
# berthctl writes its own completion script (from its command tree) at packaging time.
install(CODE "
  set(dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/bash-completion/completions\")
  file(MAKE_DIRECTORY \"\${dir}\")
  execute_process(COMMAND \"$<TARGET_FILE:berthctl>\" completion bash
                  OUTPUT_FILE \"\${dir}/berthctl\" COMMAND_ERROR_IS_FATAL ANY)
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME berth)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${BERTH_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "durable Ceph RBD and NFS volumes for Docker and Kubernetes containers")
set(CPACK_PACKAGE_DESCRIPTION
    "berthd is a Docker volume plugin, berth-csi a CSI driver for Kubernetes,
berth-flex a Kubernetes FlexVolume driver and berthctl the admin CLI.
A container that restarts, on the same host or another, gets its volume
back: re-attached, never copied and never reformatted.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # berth_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON)
# Library dependencies come from dpkg-shlibdeps; the rest are the tools berth runs: rbd (krbd
# mapper, ceph-common), rbd-fuse (the mapper that works anywhere), mkfs.ext4, e2fsck and
# resize2fs (e2fsprogs), mkfs.xfs and xfs_growfs (xfsprogs), and fuse3 for berth-nfs-fuse.
# Mounts, loop devices and fsfreeze are system calls: nothing from util-linux is run.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ceph-common, rbd-fuse, e2fsprogs, xfsprogs, fuse3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "rbd-nbd, docker.io | docker-ce")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
    ${CMAKE_SOURCE_DIR}/packaging/deb/prerm ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
