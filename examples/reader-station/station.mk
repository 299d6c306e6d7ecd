# station.mk - the reader/writer station (examples/reader-station): the
# controller kc-station, built from its own sources and kc-issue's card logic
# (issue.c, profile.c, show.c, and the instruction codec in station_client.c),
# and `make demo-station`. Included by the top-level Makefile.

STATION_SRC := $(wildcard examples/reader-station/*.c)
STATION_OBJ := $(call obj,$(STATION_SRC)) \
	$(call obj,$(filter-out tools/kc-issue/main.c,$(ISSUE_SRC)))

BINS += $(B)/bin/kc-station

all: $(B)/bin/kc-station

$(STATION_OBJ): LOCAL_CFLAGS += -Itools/kc-issue -Iexamples/reader-station

$(B)/bin/kc-station: $(STATION_OBJ) $(COMMON_OBJ) $(SO) $(B)/lib/libkeycard.so.$(SOVERSION) $(B)/lib/libkeycard.so
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(STATION_OBJ) $(COMMON_OBJ) -L$(B)/lib -lkeycard '-Wl,-rpath,$$ORIGIN/../lib' $(JANSSON_LIBS)

.PHONY: demo-station
demo-station: deps
	$(MAKE) all
	@sh examples/reader-station/demo-station.sh
