module example.com/fuzzgo

go 1.19
