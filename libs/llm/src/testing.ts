// Fakes for tests live here (scripted model, scenario files). Filled in below.
export {};
