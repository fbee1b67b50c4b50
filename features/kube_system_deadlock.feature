@deadlock
Feature: The webhook cannot lock the cluster out of kube-system
  With failurePolicy Fail, a webhook that covers the namespace its own pods run in, or
  kube-system, deadlocks once its pods are gone: their replacements need the webhook to be
  admitted. So the installer refuses kube-system, kube-public, kube-node-lease and the
  webhook's own namespace, and the webhook configuration excludes them by name.
  --allow-critical-namespaces exists only to show the deadlock; deleting the
  ValidatingWebhookConfiguration always recovers (the API server never sends webhook
  configurations to webhooks).

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"

  Scenario Outline: The installer refuses the critical namespace <namespace>
    When I ask the installer for namespace selector values "production <namespace>"
    Then the installer refuses with a message starting:
      """
      refusing "<namespace>": <namespace> is a critical Kubernetes namespace. If the webhook were down
      """

    Examples:
      | namespace       |
      | kube-system     |
      | kube-public     |
      | kube-node-lease |

  Scenario: The installer refuses the webhook's own namespace
    When I ask the installer for namespace selector values "tigera-image-assurance"
    Then the installer refuses with a message starting:
      """
      refusing "tigera-image-assurance": it is the webhook's own namespace. If the webhook were down, its own pods could not be recreated
      """

  Scenario: Only --allow-critical-namespaces makes the installer accept kube-system
    When I ask the installer for namespace selector values "kube-system" with --allow-critical-namespaces
    Then the installer gives the manifests

  @serial
  Scenario: With the safe install, deleted webhook Pods come back and kube-system is unaffected
    When I delete the webhook's Pods
    And I create a Pod "dns-probe" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is admitted
    And the webhook's Pods come back and are ready

  @serial
  Scenario: With the unsafe install, deleted webhook Pods cannot come back until the webhook configuration is deleted
    Given the webhook is installed unsafely with --allow-critical-namespaces for the namespaces named "kube-system tigera-image-assurance"
    When I delete the webhook's Pods
    Then the webhook's Pods cannot come back, its ReplicaSet reporting:
      """
      Internal error occurred: failed calling webhook "image-assurance.tigera.io": failed to call webhook: Post "https://tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc:443/admission-review?timeout=5s": no endpoints available for service "tigera-image-assurance-admission-controller-service"
      """
    When I create a Pod "dns-probe" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is rejected with:
      """
      Internal error occurred: failed calling webhook "image-assurance.tigera.io": failed to call webhook: Post "https://tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc:443/admission-review?timeout=5s": no endpoints available for service "tigera-image-assurance-admission-controller-service"
      """
    When I delete the ValidatingWebhookConfiguration "image-assurance.tigera.io"
    Then the webhook's Pods come back and are ready
    When I create a Pod "dns-probe-again" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is admitted
