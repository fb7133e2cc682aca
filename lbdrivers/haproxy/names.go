package haproxy

// CheckName checks a backend or server name as the driver does before it
// sends one to the Runtime API: 1 to 128 letters, digits, '-', '_', '.' or
// ':'. what names the value in the error, which wraps
// drivers.ErrInvalidArgument. A spec loader calls it to refuse a bad
// Config.ServerName mapping when the file is read, not at the first command.
func CheckName(what, name string) error { return validateName(what, name) }
