# The berth Debian package: install() rules and CPack's DEB generator. Building the package is a
# separate step (`cpack -G DEB` in the build dir); the normal build does none of it.
#
# cpack installs through the "preinstall" target, which by default first builds everything, tests
# and benchmarks included. Packaging (and `make install`) take the binaries as built instead:
# build first (scripts/build), then package.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# Layout: all four binaries in /usr/bin. berthd is a daemon and could live in /usr/sbin, but it
# finds berth-nfs-fuse beside its own executable first, and operators run berth-flex and
# berth-nfs-fuse by hand as often as berthctl.

install(TARGETS berthd berthctl berth-flex berth-nfs-fuse RUNTIME DESTINATION bin)
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
set(CPACK_PACKAGE_CONTACT "berth maintainers <berth@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "durable Ceph RBD and NFS volumes for Docker and Kubernetes containers")
set(CPACK_PACKAGE_DESCRIPTION
    "berthd is a Docker volume plugin, berth-flex a Kubernetes FlexVolume driver and
berthctl the admin CLI. A container that restarts, on the same host or another,
gets its volume back: re-attached, never copied and never reformatted.")
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
