# Makefile: the two commands of README.md, plus conveniences. All real work is CMake + CTest.
#   make demo   install dependencies, build, fetch FashionMNIST, train the MLP and print the table
#   make test   install dependencies, build everything (CUDA code too when nvcc is present), run the test suite
#   make bench  the CPU benchmarks of docs/benchmarks.md (sprint and its PyTorch peer, JSON lines): training
#               epochs (bench/cpu_suite.sh), then conv-model training steps (bench/cpu_step_suite.sh)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SPRINT := $(BUILD)/bin/sprint

.PHONY: all deps build demo test bench clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(SPRINT) data fetch fashion-mnist
	$(SPRINT) train --model mlp --dataset fashion-mnist --epochs 3

test: build
	$(SPRINT) data fetch fashion-mnist
	cd $(BUILD) && SPRINT_REQUIRE_DATA=1 ctest --output-on-failure -j $(JOBS)

bench: build
	$(SPRINT) data fetch fashion-mnist
	bench/cpu_suite.sh $(BUILD)
	bench/cpu_step_suite.sh $(BUILD)

clean:
	rm -rf $(BUILD)
