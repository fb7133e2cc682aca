package drivers

//go:generate go tool mockgen -destination=drivermock/mocks.go -package=drivermock -typed . ServiceController,LoadBalancer,Switcher,PlatformClient,DeployedReleaseReader,DeploymentAborter,DeploymentContinuer,Prober,ApplicationProber,IdleReporter
