// The workflow bundle's entry point: everything exported here is a workflow the worker can run.
export { dashboardWorkflow } from './dashboard';
