@controllers
Feature: Workloads are checked once, at the top
  The webhook checks the object a user creates: a Deployment, StatefulSet, DaemonSet, Job,
  CronJob, ReplicaSet, ReplicationController or Pod. The ReplicaSets and Pods that controllers
  then create for an admitted object are not checked again, so new scan results never stop an
  admitted workload from scaling or healing. A Pod created directly is always checked, and so
  is a Pod that merely claims an owner: a child is trusted only when its owner exists with the
  same uid, runs the same images, and the request comes from a Kubernetes controller.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"
    And the policy "reject-failed-and-non-gcr" from the fixtures
    And these scan results:
      | image                                        | status | scanned   |
      | gcr.io/company/production-repository/api:1.2 | Pass   | 1 day ago |

  Scenario: A Deployment with a rejected image is rejected and nothing is created
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    And nothing was created in the namespace

  Scenario: An admitted Deployment still scales up after its image's scan turns Fail
    Given an admitted Deployment "api" with image "gcr.io/company/production-repository/api:1.2"
    Then the Deployment "api" has 1 Pod
    When the scan result of "gcr.io/company/production-repository/api:1.2" changes to Fail
    And I create a Pod "direct" with image "gcr.io/company/production-repository/api:1.2"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 2
    When I scale the Deployment "api" to 3 replicas
    Then the Deployment "api" has 3 Pods
    And no Pod creation was refused in the namespace

  Scenario: A Pod with a forged ownerReference is evaluated like a direct Pod
    Given an admitted Deployment "api" with image "gcr.io/company/production-repository/api:1.2"
    When I create a Pod "api-forged" claiming to be owned by the Deployment "api" with image "busybox:1.36"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0

  Scenario Outline: A <kind> is evaluated when it is created
    When I create a <kind> "web" with image "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    And nothing was created in the namespace
    When I create a <kind> "api" with image "gcr.io/company/production-repository/api:1.2"
    Then it is admitted

    Examples:
      | kind                  |
      | Pod                   |
      | Deployment            |
      | ReplicaSet            |
      | StatefulSet           |
      | DaemonSet             |
      | Job                   |
      | CronJob               |
      | ReplicationController |

  Scenario: Init containers count
    When I create a Pod "api" with these containers:
      | type      | name  | image                                        |
      | init      | setup | busybox:1.36                                 |
      | container | api   | gcr.io/company/production-repository/api:1.2 |
    Then it is rejected with:
      """
      admission webhook "image-assurance.tigera.io" denied the request: image "busybox:1.36" (container "setup"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0
      """

  Scenario: Ephemeral containers count
    Given an admitted Pod "api" with image "gcr.io/company/production-repository/api:1.2"
    When I add an ephemeral container "debug" with image "busybox:1.36" to the Pod "api"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
