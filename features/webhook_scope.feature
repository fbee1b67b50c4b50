@webhook-scope
Feature: The webhook checks only the namespaces it was installed for
  The install's namespace selector (key apply-container-policies, values "true", the seed's
  IN_NAMESPACE_SELECTOR_KEY and IN_NAMESPACE_SELECTOR_VALUES) decides which namespaces the API
  server sends to the webhook at all. A policy's namespaceSelector can only narrow that: in a
  namespace outside the install's selector nothing is checked, whatever the policies say. This
  is the seed's troubleshooting case "my policy does not apply".

  "Not checked" means the webhook was not even asked: its own count of admission requests (its
  metrics, read from each of its Pods through the API server) does not move, while the same
  request in a labelled namespace moves it. The count covers the whole webhook, so these
  scenarios run alone (@serial).

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"

  @serial
  Scenario: A namespace without the label is never checked, even when a policy's namespaceSelector matches it
    Given a namespace labelled "environment=production"
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: production-lockdown
      spec:
        namespaceSelector: "environment == 'production'"
        rules:
          - action: Reject
      """
    And the webhook's admission requests are counted
    When I create a Pod "web" with image "nginx:1.27"
    Then it is admitted
    And the webhook was not asked
    When the namespace is labelled "apply-container-policies=true"
    And I create a Pod "web-again" with image "nginx:1.27"
    Then it is rejected by policy "production-lockdown" rule index 0
    And the webhook was asked

  @serial
  Scenario: A label value not among the install's values does not opt the namespace in
    Given a namespace labelled "apply-container-policies=false"
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: lockdown
      spec:
        rules:
          - action: Reject
      """
    And the webhook's admission requests are counted
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is admitted
    And the Deployment "web" has 1 Pod
    And the webhook was not asked
    When the namespace is labelled "apply-container-policies=true"
    And I create a Deployment "web-again" with image "nginx:1.27"
    Then it is rejected by policy "lockdown" rule index 0
    And the webhook was asked

  @serial
  Scenario: A namespace with no labels at all is not checked
    Given a namespace with no labels
    And the policy "reject-failed-and-non-gcr" from the fixtures
    And the webhook's admission requests are counted
    When I create a Pod "web" with image "nginx:1.27"
    Then it is admitted
    And the webhook was not asked
    When the namespace is labelled "apply-container-policies=true"
    And I create a Pod "web-again" with image "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    And the webhook was asked
