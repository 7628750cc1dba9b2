// compose-check validates docker-compose.yml without a Docker engine, with the library `docker compose` itself
// uses (compose-go): the compose-spec JSON schema, variable interpolation (so a required `${VAR:?message}` that is
// unset fails here exactly as it fails `docker compose up`), then precis's own rules for its services:
//
//   - one image for every precis service, built by exactly one service and never pulled;
//   - every precis process has a health check on its own /readyz;
//   - no precis process but the API publishes a host port (workers scale with --scale);
//   - every precis process waits for its dependencies (healthy engines, finished setup jobs);
//   - every precis process gets the model settings;
//   - deploy/prometheus/prometheus.yml discovers every precis process on its metrics port, by DNS, under the
//     agreed job names.
//
// Usage: compose-check [-prometheus deploy/prometheus/prometheus.yml] [-project-directory DIR] docker-compose.yml
// Prints the project's services as JSON on success; each broken rule on stderr and exit status 1 otherwise.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// Labels by which docker-compose.yml marks precis's services (the checks do not rely on service names).
const (
	roleLabel        = "precis.role"         // "process" (long-running, scraped, health-checked) or "setup" (one-shot)
	metricsPortLabel = "precis.metrics-port" // the port of the process's /metrics and /readyz
	precisImage      = "precis:local"
	apiService       = "api"
)

// The Prometheus job names agreed for precis's processes, by compose service.
var metricsJobs = map[string]string{
	"api":             "precis-api",
	"ingest":          "precis-ingest",
	"pipeline-worker": "precis-pipeline",
	"llm-worker":      "precis-llm",
}

// Settings every process must receive from the host (src/config/index.ts), so that the model is configurable.
var modelSettings = []string{"OPENAI_API_KEY", "PRECIS_LLM_BASE_URL", "PRECIS_LLM_MODEL", "PRECIS_LLM_FALLBACK_MODEL"}

type summary struct {
	Project   string   `json:"project"`
	Services  []string `json:"services"`
	Processes []string `json:"processes"`
	Image     string   `json:"image"`
	BuiltBy   string   `json:"builtBy"`
}

func main() {
	prometheusFile := flag.String("prometheus", "deploy/prometheus/prometheus.yml", "Prometheus configuration to check against the services")
	projectDir := flag.String("project-directory", "", "the project folder (relative paths, env_file); default: the file's folder")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-prometheus FILE] [-project-directory DIR] docker-compose.yml")
		os.Exit(2)
	}
	project, err := load(flag.Arg(0), *projectDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(1)
	}
	jobs, err := readScrapeJobs(*prometheusFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(1)
	}
	out, problems := check(project, jobs)
	if len(problems) > 0 {
		for _, problem := range problems {
			fmt.Fprintf(os.Stderr, "compose-check: %s\n", problem)
		}
		os.Exit(1)
	}
	encoded, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(encoded))
}

// load reads the file as `docker compose config` would: the process environment for interpolation, the file's
// folder as the project folder, schema validation on.
func load(file, projectDir string) (*types.Project, error) {
	if projectDir == "" {
		projectDir = filepath.Dir(file)
	}
	dir, err := filepath.Abs(projectDir)
	if err != nil {
		return nil, err
	}
	options, err := cli.NewProjectOptions([]string{file},
		cli.WithOsEnv,
		cli.WithWorkingDirectory(dir),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return nil, err
	}
	return options.LoadProject(context.Background())
}

func check(project *types.Project, jobs map[string]scrapeJob) (summary, []string) {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	out := summary{Project: project.Name, Image: precisImage}
	for _, name := range project.ServiceNames() {
		out.Services = append(out.Services, name)
	}
	sort.Strings(out.Services)

	var builders []string
	for _, name := range out.Services {
		service := project.Services[name]
		role := service.Labels[roleLabel]
		if service.Build != nil {
			builders = append(builders, name)
		}
		if role == "" {
			if service.Image == precisImage {
				fail("%s uses %s but has no %s label", name, precisImage, roleLabel)
			}
			continue
		}
		if service.Image != precisImage {
			fail("%s: image %q, expected %s (one image for every precis service)", name, service.Image, precisImage)
		}
		if service.Build == nil && service.PullPolicy != types.PullPolicyNever {
			fail("%s: pull_policy %q; an image built locally must never be pulled", name, service.PullPolicy)
		}
		for _, setting := range modelSettings {
			if _, ok := service.Environment[setting]; !ok {
				fail("%s: %s is not passed through", name, setting)
			}
		}
		if role == "process" {
			out.Processes = append(out.Processes, name)
			problems = append(problems, checkProcess(service, jobs)...)
		}
	}
	if len(builders) != 1 {
		fail("exactly one service must build %s, found %d (%s)", precisImage, len(builders), strings.Join(builders, ", "))
	} else {
		out.BuiltBy = builders[0]
	}
	for service, job := range metricsJobs {
		if !slices.Contains(out.Processes, service) {
			fail("precis process %s (Prometheus job %s) is missing", service, job)
		}
	}
	return out, problems
}

func checkProcess(service types.ServiceConfig, jobs map[string]scrapeJob) []string {
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, service.Name+": "+fmt.Sprintf(format, args...))
	}
	port, err := strconv.Atoi(service.Labels[metricsPortLabel])
	if err != nil {
		fail("label %s must be its metrics port, got %q", metricsPortLabel, service.Labels[metricsPortLabel])
	}
	health := service.HealthCheck
	switch {
	case health == nil || health.Disable || len(health.Test) == 0:
		fail("no health check")
	default:
		test := strings.Join(health.Test, " ")
		if !strings.Contains(test, fmt.Sprintf(":%d/readyz", port)) {
			fail("health check %q does not request /readyz on port %d", test, port)
		}
	}
	if len(service.Ports) > 0 && service.Name != apiService {
		fail("publishes host ports %v; a worker must scale with --scale, which a fixed host port prevents", service.Ports)
	}
	if service.Deploy != nil && service.Deploy.Replicas != nil {
		fail("fixes deploy.replicas; scale with --scale instead")
	}
	conditions := map[string]bool{}
	for _, dependency := range service.DependsOn {
		conditions[dependency.Condition] = true
	}
	for _, condition := range []string{types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully} {
		if !conditions[condition] {
			fail("depends on no service with condition %s", condition)
		}
	}
	job, ok := jobs[metricsJobs[service.Name]]
	switch {
	case !ok:
		fail("Prometheus has no job %q", metricsJobs[service.Name])
	case !job.discovers(service.Name, port):
		fail("Prometheus job %s does not discover %s:%d by DNS (every replica)", job.Name, service.Name, port)
	}
	return problems
}

// The part of a Prometheus configuration the checks read.
type scrapeJob struct {
	Name         string `yaml:"job_name"`
	DNSSDConfigs []struct {
		Names []string `yaml:"names"`
		Type  string   `yaml:"type"`
		Port  int      `yaml:"port"`
	} `yaml:"dns_sd_configs"`
}

func (job scrapeJob) discovers(host string, port int) bool {
	for _, sd := range job.DNSSDConfigs {
		if sd.Port == port && (sd.Type == "A" || sd.Type == "") && slices.Contains(sd.Names, host) {
			return true
		}
	}
	return false
}

func readScrapeJobs(file string) (map[string]scrapeJob, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var config struct {
		ScrapeConfigs []scrapeJob `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &config); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	jobs := map[string]scrapeJob{}
	for _, job := range config.ScrapeConfigs {
		jobs[job.Name] = job
	}
	return jobs, nil
}
