# Tests of the blocking model beyond the ones every server gets
# (cmake/tests.cmake). Included by cmake/tests.cmake.

# The minimal listing (minimal.c, docs/01_blocking.md): 50 clients at once,
# payload sizes rotating long and short per connection; every reply is
# compared byte for byte, and one carrying another connection's bytes
# counts as crosstalk. It has no stop machinery, so the client terminates it.
wsm_client_test(NAME blocking_minimal_load SERVER blocking_minimal
                LABELS fast load minimal TIMEOUT 300
                ARGS load --conns 50 --msgs 50 --sizes 8,3000,100 --server-stop kill)
