# The same front door as ./kit, for those who reach for make.
# Each target sets up what the machine lacks first (see ./kit).

.PHONY: all setup lab demo demo-net test kernel clean

all: kernel

setup:
	./kit setup

lab:
	./kit lab

# make demo: lesson 01's experiment; make demo STAGE=net (or make demo-net): lesson 07's
demo:
	./kit demo $(STAGE)

demo-net:
	./kit demo net

test:
	./kit test

kernel:
	$(MAKE) -C kernel

clean:
	rm -rf build results
