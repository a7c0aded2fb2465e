module kofarm.test/parity

go 1.19
