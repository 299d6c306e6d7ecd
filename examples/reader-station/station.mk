# station.mk - the reader/writer station (examples/reader-station): the
# controller kc-station, built from its own source and the issuance engine
# (issuance/: one card's issuance, profiles and records, the instruction
# codec), and `make demo-station`. Included by the top-level Makefile.

STATION_SRC := $(wildcard examples/reader-station/*.c)
STATION_OBJ := $(call obj,$(STATION_SRC)) $(ENGINE_OBJ)

BINS += $(B)/bin/kc-station

all: $(B)/bin/kc-station

$(call obj,$(STATION_SRC)): LOCAL_CFLAGS += $(INC_ENGINE)

$(B)/bin/kc-station $(B)/inst/bin/kc-station: $(STATION_OBJ) $(COMMON_OBJ) $(LIBS_DEP)
	@mkdir -p $(dir $@)
	$(LINK_TOOL)

.PHONY: demo-station
demo-station: deps
	$(MAKE) all
	@sh examples/reader-station/demo-station.sh
