# tests/fuzz/fuzz.mk - libFuzzer + ASan + UBSan targets (included by the top
# Makefile). See tests/fuzz/README.md.
#
#   make fuzz         build every target into $(B)/fuzz/ and run each for
#                     FUZZ_SECONDS (default 60) on its seed corpus; prints the
#                     executions and crashes per target, fails on any crash
#   make fuzz-smoke   the same for FUZZ_SMOKE_SECONDS (default 3) each: what
#                     `make check` runs
#   make fuzz-build   only build
#   make fuzz-seeds   regenerate the recorded seed corpora (tests/fuzz/corpus/)
#
# The code under test is compiled from the same sources as the product, with
# the same warnings and no extra defines: nothing is skipped while fuzzing.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_B = $(B)/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# clang only: libkeycard's message table splits long strings on purpose.
FUZZ_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARNFLAGS) \
	-g -O1 $(FUZZ_SAN) \
	-Iinclude -Ikeycard -Iexamples/targetcard -Itools/common -Ilibkeycard \
	-Itests/unit -Itests/unit/support -Itests/fuzz $(PCSC_CFLAGS)
FUZZ_TARGETS = fuzz_keycard fuzz_target fuzz_template fuzz_profile fuzz_libkeycard_resp fuzz_vpcd \
	fuzz_station fuzz_records

fuzz_obj = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(1))
FUZZ_FW_OBJ = $(call fuzz_obj,$(FW_SRC))
FUZZ_LIB_OBJ = $(call fuzz_obj,$(filter-out libkeycard/transport_pcsc.c,$(LIB_SRC)))
FUZZ_CARD_OBJ = $(call fuzz_obj,tests/unit/support/kc_test_card.c)
FUZZ_TT_OBJ = $(call fuzz_obj,tests/unit/support/kc_test_target.c)
FUZZ_SCEN_OBJ = $(call fuzz_obj,tests/fuzz/scenario.c)

# The code under test: instrumented for coverage, no fuzzer main.
$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

FUZZ_LINK = $(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(FUZZ_B)/fuzz_keycard: $(call fuzz_obj,tests/fuzz/fuzz_keycard.c) $(FUZZ_CARD_OBJ) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(MBED_LIBS)
$(FUZZ_B)/fuzz_target: $(call fuzz_obj,tests/fuzz/fuzz_target.c) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(MBED_LIBS)
$(FUZZ_B)/fuzz_template: $(call fuzz_obj,tests/fuzz/fuzz_template.c) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(MBED_LIBS)
$(FUZZ_B)/fuzz_profile: $(call fuzz_obj,tests/fuzz/fuzz_profile.c tools/kc-admin/profile.c \
		$(COMMON_SRC) $(LIB_SRC)) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(JANSSON_LIBS) $(PCSC_LIBS) $(MBED_LIBS)
$(FUZZ_B)/fuzz_libkeycard_resp: $(call fuzz_obj,tests/fuzz/fuzz_libkeycard_resp.c) $(FUZZ_SCEN_OBJ) \
		$(FUZZ_LIB_OBJ) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(MBED_LIBS)
$(FUZZ_B)/fuzz_vpcd: $(call fuzz_obj,tests/fuzz/fuzz_vpcd.c tools/kc-vcard/vpcd.c)
	$(FUZZ_LINK)
# The station's socket protocol: kc-station's decoder and card-free checks.
FUZZ_STATION_OBJ = $(call fuzz_obj,tests/fuzz/fuzz_station.c issuance/kcs_record.c issuance/report.c \
	issuance/station_client.c issuance/profile.c)
$(FUZZ_STATION_OBJ): FUZZ_CFLAGS += -Iissuance
$(FUZZ_B)/fuzz_station: $(FUZZ_STATION_OBJ) $(call fuzz_obj,$(COMMON_SRC) $(LIB_SRC)) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(JANSSON_LIBS) $(PCSC_LIBS) $(MBED_LIBS)

# kc-issue's records (CSV) parser.
FUZZ_RECORDS_OBJ = $(call fuzz_obj,tests/fuzz/fuzz_records.c issuance/profile.c)
$(FUZZ_RECORDS_OBJ): FUZZ_CFLAGS += -Iissuance
$(FUZZ_B)/fuzz_records: $(FUZZ_RECORDS_OBJ) $(call fuzz_obj,$(COMMON_SRC) $(LIB_SRC)) $(FUZZ_FW_OBJ)
	$(FUZZ_LINK) $(JANSSON_LIBS) $(PCSC_LIBS) $(MBED_LIBS)

# The seed recorder: the scenario against real firmware through a recording
# transport (an ordinary sanitized program, not a fuzzer).
$(FUZZ_B)/gen_seeds: $(call fuzz_obj,tests/fuzz/gen_seeds.c) $(FUZZ_SCEN_OBJ) $(FUZZ_TT_OBJ) \
		$(FUZZ_CARD_OBJ) $(FUZZ_LIB_OBJ) $(FUZZ_FW_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(CHECK_LIBS) $(MBED_LIBS)

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-seeds
fuzz-build: $(addprefix $(FUZZ_B)/,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@B=$(B) sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@B=$(B) sh tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

fuzz-seeds: $(FUZZ_B)/gen_seeds
	$(FUZZ_B)/gen_seeds tests/fuzz/corpus

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)
