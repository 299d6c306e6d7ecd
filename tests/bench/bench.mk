# bench.mk - `make bench` (included by the top Makefile): the cost of issuance
# against the limits of the link, the crypto and the flash. The measuring
# program links the station's own issuance code (the engine, issuance/) and
# the whole library statically, with link-time wrappers that count
# the PC/SC lines and find the key card's flash wear counters.
# tests/bench/run.sh drives it; docs/performance.md explains the figures.

BENCH_ISSUE_OBJ := $(ENGINE_OBJ)
BENCH_WRAP = -Wl,--wrap=SCardConnect -Wl,--wrap=SCardTransmit -Wl,--wrap=kc_hw_file_open \
	-Wl,--wrap=kc_template_fill

$(B)/bench/kc_bench: $(B)/obj/tests/bench/kc_bench.o $(BENCH_ISSUE_OBJ) $(COMMON_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(BENCH_WRAP) -o $@ $< $(BENCH_ISSUE_OBJ) $(COMMON_OBJ) $(STATIC) \
		$(PCSC_LIBS) $(MBED_LIBS) $(JANSSON_LIBS)

$(B)/obj/tests/bench/kc_bench.o: LOCAL_CFLAGS += $(INC_TEST)

# The journal's cost per card: kc-issue's journal code (not its main) alone.
JBENCH_OBJ := $(filter-out %/main.o,$(ISSUE_OBJ))
$(B)/bench/kc_jbench: $(B)/obj/tests/bench/kc_jbench.o $(JBENCH_OBJ) $(ENGINE_OBJ) $(COMMON_OBJ) $(LIBS_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(JBENCH_OBJ) $(ENGINE_OBJ) $(COMMON_OBJ) $(TOOL_LIBS) \
		$(JANSSON_LIBS) $(SQLITE_LIBS) $(PQ_LIBS)

$(B)/obj/tests/bench/kc_jbench.o: LOCAL_CFLAGS += $(INC_ENGINE) -Itools/kc-issue $(PQ_CFLAGS)

bench: deps
	$(MAKE) all $(B)/bench/kc_bench $(B)/bench/kc_jbench
	@B=$(B) sh tests/bench/run.sh
