# The layers, enforced by the build: the tree is read from the top, plugin/ and cli/ over engine/,
# over backends/ and fsutil/, over common/, and an include never runs back up. There is no
# include path at the root of the tree. Each library gets a view of it instead, a directory of
# symlinks to the parts of the tree it owns, passed on (PUBLIC) only to the targets that link
# it, which are the layers above. A source that includes a header of a layer above its own, or
# of a sibling it does not link (backends/rbd and backends/nfs), fails to compile: the header is
# simply not there. tests/layers proves it.
#
#   berth_layer(TARGET DIR...)   DIR: a directory of the tree, e.g. engine or backends/rbd
function(berth_layer target)
  set(view ${CMAKE_BINARY_DIR}/layers/${target})
  foreach(dir ${ARGN})
    get_filename_component(parent ${view}/${dir} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${dir} ${view}/${dir} SYMBOLIC)
  endforeach()
  target_include_directories(${target} PUBLIC ${view})
endfunction()
