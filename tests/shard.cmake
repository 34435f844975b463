# SPDX-License-Identifier: BSD-3-Clause
# tests/shard.cmake - sharded, restartable compress: the shard hash and the journal
# (unit), --shard auto and report (CLI), a real Slurm array job, the docs' manifests.
rp_add_test(test_shard SOURCES test_shard.c LABELS unit)

add_test(NAME shard_cli
         COMMAND ${CMAKE_SOURCE_DIR}/tests/shard/cli.sh $<TARGET_FILE:radpipe_cli> ${RADPIPE_CORPUS})
add_test(NAME shard_slurm_array
         COMMAND ${CMAKE_SOURCE_DIR}/tests/shard/slurm_array.sh $<TARGET_FILE:radpipe_cli>
                 ${RADPIPE_CORPUS})
add_test(NAME shard_docs_yaml
         COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/shard/check_scale_doc.py
                 ${CMAKE_SOURCE_DIR}/docs/SCALE.md)
set_tests_properties(shard_cli shard_slurm_array shard_docs_yaml PROPERTIES
                     TIMEOUT 900 LABELS shard SKIP_RETURN_CODE 77)
# One Slurm cluster per test machine at a time: slurmd takes the node's name.
set_tests_properties(shard_slurm_array PROPERTIES RUN_SERIAL TRUE)
