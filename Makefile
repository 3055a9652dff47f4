# The same front door as ./kit, for those who reach for make.
# Each target sets up what the machine lacks first (see ./kit).

.PHONY: all setup lab demo test kernel clean

all: kernel

setup:
	./kit setup

lab:
	./kit lab

demo:
	./kit demo

test:
	./kit test

kernel:
	$(MAKE) -C kernel

clean:
	rm -rf build results
