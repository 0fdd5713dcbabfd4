package launch

// SetPickPorts makes the port picker of ensembles and PortKeys f until
// the returned function restores it (for tests outside the package).
func SetPickPorts(f func(n int) ([]int, error)) (restore func()) {
	pickPorts = f
	return func() { pickPorts = FreePorts }
}
