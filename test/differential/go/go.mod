module gatehouse/goreader

go 1.19
