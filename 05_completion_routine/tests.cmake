# Tests of the completion-routine model beyond the shared ones
# (check_completion_routine_server, stress_completion_routine_server_1000).
# Included by cmake/tests.cmake; see docs/05_completion_routine.md.

# The minimal listing (minimal.c): 50 connections echo 50 frames each whose
# sizes rotate 8, 3000 and 100 bytes; the client checks every reply byte
# for byte and counts a reply that carries another connection's bytes as
# crosstalk. The listing has no stop event, so the client terminates it.
wsm_client_test(NAME completion_routine_minimal_load SERVER completion_routine_minimal
                LABELS fast load minimal TIMEOUT 300
                ARGS load --conns 50 --msgs 50 --sizes 8,3000,100 --server-stop kill)
